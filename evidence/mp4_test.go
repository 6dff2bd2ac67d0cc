package evidence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/media"
)

func keyIndexes(aus []*media.AccessUnit) []int {
	var k []int
	for i, au := range aus {
		if au.Key {
			k = append(k, i)
		}
	}
	return k
}

func TestWriteMP4ReproducesSourcePictures(t *testing.T) {
	for _, name := range []string{"h264_640x360.mp4", "h265_640x360.mp4", "h264_bframes_640x360.mp4"} {
		s := loadStream(t, name)
		keys := keyIndexes(s.aus)
		for _, tc := range []struct {
			name string
			from int // decode index of the first access unit
		}{{"whole", 0}, {"from-second-keyframe", keys[1]}} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				aus := s.aus[tc.from:]
				p, info := writeClip(t, t.TempDir(), "clip.mp4", aus)
				pr := checkPlayable(t, p, info)
				if info.Frames != len(aus) || info.Dropped != 0 {
					t.Errorf("Frames %d Dropped %d, want %d and 0", info.Frames, info.Dropped, len(aus))
				}
				if want := time.Duration(len(aus)) * time.Second / 25; info.Duration != want {
					t.Errorf("Duration %v, want %v (25 fps)", info.Duration, want)
				}
				if !info.Start.Equal(aus[0].Time) {
					t.Errorf("Start %v, want the keyframe's time %v", info.Start, aus[0].Time)
				}
				wantCodec := map[media.Codec]string{media.CodecH264: "h264", media.CodecH265: "hevc"}[aus[0].Codec]
				if pr.Codec != wantCodec || pr.Width != 640 || pr.Height != 360 || info.Width != 640 || info.Height != 360 {
					t.Errorf("ffprobe %s %dx%d, ClipInfo %dx%d; want %s 640x360", pr.Codec, pr.Width, pr.Height, info.Width, info.Height, wantCodec)
				}
				checkTimestamps(t, pr, aus)
				checkSamePictures(t, s.path, p, presentationIndex(s.aus, aus[0]), len(aus))
			})
		}
	}
}

// An H.265 stream with open GOPs: each CRA is followed by RASL pictures that
// reference the GOP before. A clip starting at a CRA must leave them out.
func TestWriteMP4LeavesOutRASLPicturesOfTheFirstCRA(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "open_gop.mp4")
	runTool(t, "ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
		"-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-x265-params", "keyint=24:min-keyint=24:scenecut=0:bframes=3:b-adapt=0:open-gop=1:pools=1:frame-threads=1:log-level=error",
		"-tag:v", "hvc1", src)
	aus := demuxFile(t, src)
	keys := keyIndexes(aus)
	if len(keys) < 2 || h265VCLType(aus[keys[1]].NALUs) != 21 {
		t.Fatalf("test stream: want a CRA as second keyframe; keys at %v", keys)
	}
	rasl := 0
	for _, au := range aus[keys[1]+1:] {
		if typ := h265VCLType(au.NALUs); typ != 8 && typ != 9 {
			break
		}
		rasl++
	}
	if rasl == 0 {
		t.Fatal("test stream: the CRA has no RASL pictures")
	}
	clip := aus[keys[1]:]
	p, info := writeClip(t, dir, "clip.mp4", clip)
	checkPlayable(t, p, info)
	if info.Dropped != rasl || info.Frames != len(clip)-rasl {
		t.Errorf("Dropped %d Frames %d; want the %d RASL pictures left out of %d", info.Dropped, info.Frames, rasl, len(clip))
	}
	checkSamePictures(t, src, p, presentationIndex(aus, aus[keys[1]]), len(clip)-rasl)

	// In the middle of a clip the RASL pictures decode fine and stay.
	p, info = writeClip(t, dir, "whole.mp4", aus)
	checkPlayable(t, p, info)
	if info.Dropped != 0 || info.Frames != len(aus) {
		t.Errorf("whole stream: Dropped %d Frames %d, want 0 and %d", info.Dropped, info.Frames, len(aus))
	}
	checkSamePictures(t, src, p, 0, len(aus))
}

func TestWriteMP4KeepsThePartAfterAParameterSetChange(t *testing.T) {
	a := loadStream(t, "h264_640x360.mp4").aus[:50]                          // 2 s at 640x360
	b := restamp(loadStream(t, "vtest_h264.mp4").aus[:20], 2*time.Second, 1) // 2 s at 768x576, 10 fps
	aus := append(slices.Clip(a), b...)
	p, info := writeClip(t, t.TempDir(), "clip.mp4", aus)
	checkPlayable(t, p, info)
	if info.Width != 768 || info.Height != 576 || info.Frames != 20 || info.Dropped != 50 {
		t.Errorf("got %dx%d, %d frames, %d dropped; want 768x576, 20 frames, 50 dropped", info.Width, info.Height, info.Frames, info.Dropped)
	}
	if !info.Start.Equal(b[0].Time) {
		t.Errorf("Start %v, want %v: the clip starts at the new parameter sets", info.Start, b[0].Time)
	}
	checkSamePictures(t, loadStream(t, "vtest_h264.mp4").path, p, 0, 20)
}

func TestWriteMP4KeepsAReconnectAsAPause(t *testing.T) {
	s := loadStream(t, "h264_640x360.mp4")
	a := s.aus[:100]                               // session 1: 0..4 s
	b := restamp(s.aus[100:200], 5*time.Second, 2) // session 2: 9..13 s, after a 5 s outage
	aus := append(slices.Clip(a), b...)
	p, info := writeClip(t, t.TempDir(), "clip.mp4", aus)
	pr := checkPlayable(t, p, info)
	if info.Frames != 200 || info.Dropped != 0 || info.Duration != 13*time.Second {
		t.Errorf("Frames %d Dropped %d Duration %v; want 200, 0, 13s", info.Frames, info.Dropped, info.Duration)
	}
	if got := pr.Packets[100].PTS; got != 9 {
		t.Errorf("first picture after the reconnect shown at %vs, want 9s", got)
	}
	if !info.End.Equal(b[99].Time) {
		t.Errorf("End %v, want %v", info.End, b[99].Time)
	}
	checkTimestamps(t, pr, aus)
	checkSamePictures(t, s.path, p, 0, 200)
}

func TestWriteMP4LeavesOutPicturesBrokenByAGap(t *testing.T) {
	s := loadStream(t, "h264_640x360.mp4")
	aus := slices.Clone(s.aus)
	c := *aus[60] // non-key, mid-GOP: 60..99 reference lost pictures
	c.Gap = true
	aus[60] = &c
	p, info := writeClip(t, t.TempDir(), "clip.mp4", aus)
	checkPlayable(t, p, info)
	if info.Frames != 210 || info.Dropped != 40 {
		t.Errorf("Frames %d Dropped %d, want 210 and 40", info.Frames, info.Dropped)
	}
	want := frameHashes(t, s.path)
	want = append(slices.Clone(want[:60]), want[100:]...)
	if got := frameHashes(t, p); !slices.Equal(got, want) {
		t.Errorf("clip pictures are not the source's 0..59 and 100..249")
	}
}

// withNALUs copies access units with extra NAL units before and after each's own.
func withNALUs(aus []*media.AccessUnit, edit func(i int, au *media.AccessUnit) [][]byte) []*media.AccessUnit {
	out := make([]*media.AccessUnit, len(aus))
	for i, au := range aus {
		c := *au
		c.NALUs = edit(i, au)
		out[i] = &c
	}
	return out
}

func TestWriteMP4StripsDelimitersFillerAndRepeatedParameterSets(t *testing.T) {
	for _, name := range []string{"h264_640x360.mp4", "h265_640x360.mp4"} {
		t.Run(name, func(t *testing.T) {
			aus := loadStream(t, name).aus
			var want bytes.Buffer
			if _, err := WriteMP4(&want, aus); err != nil {
				t.Fatal(err)
			}
			aud, filler := []byte{0x09, 0xf0}, []byte{0x0c, 0xff, 0xff, 0x80}
			if aus[0].Codec == media.CodecH265 {
				aud, filler = []byte{35 << 1, 1, 0x50}, []byte{38 << 1, 1, 0xff, 0x80}
			}
			decorated := withNALUs(aus, func(_ int, au *media.AccessUnit) [][]byte {
				return append(append([][]byte{aud}, au.NALUs...), filler)
			})
			// Parameter sets only in the first keyframe: later ones continue the run.
			first := aus[0].NALUs
			bare := withNALUs(aus, func(i int, au *media.AccessUnit) [][]byte {
				if i == 0 {
					return au.NALUs
				}
				return slices.DeleteFunc(slices.Clone(au.NALUs), func(n []byte) bool {
					return slices.ContainsFunc(first, func(p []byte) bool { return bytes.Equal(p, n) }) &&
						naluClass(au.Codec, n) != classOther
				})
			})
			for variant, in := range map[string][]*media.AccessUnit{"decorated": decorated, "bare": bare} {
				var got bytes.Buffer
				if _, err := WriteMP4(&got, in); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s: MP4 differs from the plain stream's (%d vs %d bytes)", variant, got.Len(), want.Len())
				}
			}
		})
	}
}

func TestWriteMP4RejectsClipsWithoutAKeyframe(t *testing.T) {
	aus := loadStream(t, "h264_640x360.mp4").aus
	for name, in := range map[string][]*media.AccessUnit{"nil": nil, "no keyframe": aus[1:50]} {
		var buf bytes.Buffer
		info, err := WriteMP4(&buf, in)
		if !errors.Is(err, ErrEmptyClip) || buf.Len() != 0 {
			t.Errorf("%s: err %v, %d bytes written; want ErrEmptyClip and nothing", name, err, buf.Len())
		}
		if info.Dropped != len(in) {
			t.Errorf("%s: Dropped %d, want %d", name, info.Dropped, len(in))
		}
	}
}

func TestWriteMP4FileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteMP4File(path, nil); err == nil {
		t.Fatal("empty clip written")
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Error("a failed write touched the existing file")
	}
	info, err := WriteMP4File(path, loadStream(t, "h264_640x360.mp4").aus[:50])
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != info.Bytes {
		t.Errorf("file size %v (%v), ClipInfo.Bytes %d", st.Size(), err, info.Bytes)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only clip.mp4 (no temporary files)", len(entries))
	}
}

// sampleEntry returns a file's first sample entry type and its
// configuration box (avcC, hvcC).
func sampleEntry(t *testing.T, file []byte) (string, []byte) {
	t.Helper()
	stsd := mp4Path(mp4Box(file, "moov"), "trak", "mdia", "minf", "stbl", "stsd")
	if len(stsd) < 8+86 {
		t.Fatal("no stsd")
	}
	entry := stsd[8:]
	typ := string(entry[4:8])
	cfg := mp4Box(entry[86:binary.BigEndian.Uint32(entry)], map[string]string{"avc1": "avcC", "hvc1": "hvcC"}[typ])
	if cfg == nil {
		t.Fatalf("sample entry %q without its configuration box", typ)
	}
	return typ, cfg
}

// The test files were muxed by ffmpeg: the clip's sample entry must say
// what ffmpeg's says (the fields pmp4 gets wrong are fixed in mp4_moov.go),
// and for hvc1 every parameter set array must be marked complete.
func TestWriteMP4SampleEntryMatchesFFmpegs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header int // bytes of the configuration record before the parameter sets
	}{{"h264_bframes_640x360.mp4", 6}, {"h265_640x360.mp4", 22}} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadStream(t, tc.name)
			src, err := os.ReadFile(s.path)
			if err != nil {
				t.Fatal(err)
			}
			var clip bytes.Buffer
			if _, err := WriteMP4(&clip, s.aus); err != nil {
				t.Fatal(err)
			}
			wantType, want := sampleEntry(t, src)
			gotType, got := sampleEntry(t, clip.Bytes())
			if gotType != wantType {
				t.Errorf("sample entry %q, ffmpeg's %q", gotType, wantType)
			}
			if !bytes.Equal(got[:tc.header], want[:tc.header]) {
				t.Errorf("configuration record starts\n% x\nffmpeg's\n% x", got[:tc.header], want[:tc.header])
			}
			if gotType != "hvc1" {
				return
			}
			arrays, p := int(got[22]), got[23:]
			for i := range arrays {
				if p[0]&0x80 == 0 {
					t.Errorf("hvcC array %d (NAL unit type %d) not marked complete", i, p[0]&0x3f)
				}
				n := int(binary.BigEndian.Uint16(p[1:]))
				p = p[3:]
				for range n {
					p = p[2+int(binary.BigEndian.Uint16(p)):]
				}
			}
		})
	}
}

// mvhd, tkhd, mdhd and the edit list all give the clip's duration in one
// 90 kHz timescale; the edit list skips the reorder delay (the first
// sample's composition offset), and creation_time is the first picture's.
func TestWriteMP4EveryDurationFieldIsTheClipsDuration(t *testing.T) {
	be := binary.BigEndian
	for _, tc := range []struct {
		name    string
		bframes bool
	}{{"h264_640x360.mp4", false}, {"h264_bframes_640x360.mp4", true}, {"h265_640x360.mp4", false}} {
		t.Run(tc.name, func(t *testing.T) {
			p, info := writeClip(t, t.TempDir(), "clip.mp4", loadStream(t, tc.name).aus)
			file, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			moov := mp4Box(file, "moov")
			mvhd, tkhd := mp4Box(moov, "mvhd"), mp4Path(moov, "trak", "tkhd")
			elst, mdhd := mp4Path(moov, "trak", "edts", "elst"), mp4Path(moov, "trak", "mdia", "mdhd")
			ctts := mp4Path(moov, "trak", "mdia", "minf", "stbl", "ctts")
			if mvhd == nil || tkhd == nil || elst == nil || mdhd == nil || ctts == nil {
				t.Fatal("mvhd, tkhd, elst, mdhd or ctts missing")
			}
			want := uint32(media.DurationToTicks(info.Duration))
			for _, f := range []struct {
				field     string
				got, want uint32
			}{
				{"mvhd timescale", be.Uint32(mvhd[12:]), media.ClockRate},
				{"mvhd duration", be.Uint32(mvhd[16:]), want},
				{"tkhd duration", be.Uint32(tkhd[20:]), want},
				{"mdhd timescale", be.Uint32(mdhd[12:]), media.ClockRate},
				{"mdhd duration", be.Uint32(mdhd[16:]), want},
				{"edit list entries", be.Uint32(elst[4:]), 1},
				{"edit list segment duration", be.Uint32(elst[8:]), want},
				{"edit list media time", be.Uint32(elst[12:]), be.Uint32(ctts[12:])},
			} {
				if f.got != f.want {
					t.Errorf("%s %d, want %d", f.field, f.got, f.want)
				}
			}
			if delay := be.Uint32(elst[12:]); (delay > 0) != tc.bframes {
				t.Errorf("edit list skips %d ticks; B-frames %v", delay, tc.bframes)
			}
			out := runTool(t, "ffprobe", "-v", "error", "-show_entries", "format_tags=creation_time", "-of", "default=nw=1:nk=1", p)
			if got, want := strings.TrimSpace(string(out)), info.Start.UTC().Format("2006-01-02T15:04:05.000000Z"); got != want {
				t.Errorf("creation_time %q, want the first picture's %q", got, want)
			}
		})
	}
}

// pmp4 writes 32-bit offsets only: a clip it cannot address is refused
// before a byte is written, not written with offsets that wrap.
func TestWriteMP4RejectsClipsOf4GiB(t *testing.T) {
	key := loadStream(t, "h264_640x360.mp4").aus[0]
	slice := make([]byte, 64<<20)
	slice[0] = 0x41 // non-IDR slice
	aus := []*media.AccessUnit{key}
	for i := 1; i <= 70; i++ { // 4.4 GiB
		aus = append(aus, &media.AccessUnit{Codec: key.Codec, NALUs: [][]byte{slice}, PTS: key.PTS + int64(i)*3600,
			Session: key.Session, Time: key.Time.Add(time.Duration(i) * 40 * time.Millisecond)})
	}
	var w countingWriter
	w.w = io.Discard
	_, err := WriteMP4(&w, aus)
	if err == nil || errors.Is(err, ErrEmptyClip) || w.n != 0 {
		t.Errorf("err %v, %d bytes written; want an error and nothing written", err, w.n)
	}
}
