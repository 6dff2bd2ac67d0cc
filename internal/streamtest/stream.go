// Package streamtest gives tests the generated test videos as ingest
// hands them on (access units in decode order), and checks the clips made
// from them with ffprobe and ffmpeg, tools that share no code with ours.
// It is for tests only: nothing outside _test.go files may import it.
package streamtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/media"
)

// Epoch is the wall-clock time of the first picture of every test stream.
var Epoch = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// Stream is a video file demuxed as ingest would hand it on: access
// units in decode order, keyframes with their parameter sets in front, PTS
// from 0, Time from Epoch, Session 1. Tests share a Stream: never modify
// its units.
type Stream struct {
	Path string
	AUs  []*media.AccessUnit
}

var streamCache sync.Map // media file name -> *Stream

// Load demuxes an MP4 file from testdata/media (once per test binary)
// with the small MP4 reader below, which shares no code with ffmpeg.
func Load(t testing.TB, name string) *Stream {
	t.Helper()
	if s, ok := streamCache.Load(name); ok {
		return s.(*Stream)
	}
	p := mediatest.File(t, name)
	s := &Stream{Path: p, AUs: Demux(t, p)}
	streamCache.Store(name, s)
	return s
}

// Demux reads the video track of an MP4 file into access units as
// ingest makes them (see Stream).
func Demux(t testing.TB, path string) []*media.AccessUnit {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	aus, err := demuxMP4(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return aus
}

// MP4Box finds the first box of a type among the boxes in data.
func MP4Box(data []byte, typ string) []byte {
	for len(data) >= 8 {
		size := uint64(binary.BigEndian.Uint32(data))
		hdr := uint64(8)
		if size == 1 && len(data) >= 16 {
			size, hdr = binary.BigEndian.Uint64(data[8:]), 16
		} else if size == 0 {
			size = uint64(len(data))
		}
		if size < hdr || size > uint64(len(data)) {
			return nil
		}
		if string(data[4:8]) == typ {
			return data[hdr:size]
		}
		data = data[size:]
	}
	return nil
}

// MP4Path descends through nested boxes.
func MP4Path(data []byte, path ...string) []byte {
	for _, typ := range path {
		data = MP4Box(data, typ)
		if data == nil {
			return nil
		}
	}
	return data
}

// demuxMP4 reads the first video track's samples through its sample table.
func demuxMP4(file []byte) ([]*media.AccessUnit, error) {
	be := binary.BigEndian
	moov := MP4Box(file, "moov")
	var stbl []byte
	for rest := moov; ; {
		trak := MP4Box(rest, "trak")
		if trak == nil {
			return nil, errors.New("no video track")
		}
		if h := MP4Path(trak, "mdia", "hdlr"); h != nil && string(h[8:12]) == "vide" {
			stbl = MP4Path(trak, "mdia", "minf", "stbl")
			break
		}
		rest = rest[bytes.Index(rest, trak)+len(trak):]
	}
	stsd := MP4Box(stbl, "stsd")
	if stsd == nil || len(stsd) < 16 {
		return nil, errors.New("no stsd")
	}
	entry := stsd[8:]
	entryType := string(entry[4:8])
	var params media.ParamSets
	var cfgNALUs [][]byte
	entryBody := entry[8+78 : be.Uint32(entry)] // skip the visual sample entry fields
	switch entryType {
	case "avc1", "avc3":
		params.Codec = media.CodecH264
		c := MP4Box(entryBody, "avcC")
		nSPS := int(c[5] & 0x1f)
		p := c[6:]
		for range nSPS {
			l := int(be.Uint16(p))
			cfgNALUs = append(cfgNALUs, p[2:2+l])
			p = p[2+l:]
		}
		nPPS := int(p[0])
		p = p[1:]
		for range nPPS {
			l := int(be.Uint16(p))
			cfgNALUs = append(cfgNALUs, p[2:2+l])
			p = p[2+l:]
		}
	case "hvc1", "hev1":
		params.Codec = media.CodecH265
		c := MP4Box(entryBody, "hvcC")
		n := int(c[22])
		p := c[23:]
		for range n {
			cnt := int(be.Uint16(p[1:]))
			p = p[3:]
			for range cnt {
				l := int(be.Uint16(p))
				cfgNALUs = append(cfgNALUs, p[2:2+l])
				p = p[2+l:]
			}
		}
	default:
		return nil, fmt.Errorf("sample entry %q", entryType)
	}
	if _, err := params.Update(cfgNALUs); err != nil {
		return nil, err
	}

	table := func(typ string, width int) [][]uint32 { // entries of a full box with a count
		b := MP4Box(stbl, typ)
		if b == nil {
			return nil
		}
		n := int(be.Uint32(b[4:]))
		out := make([][]uint32, n)
		for i := range n {
			row := make([]uint32, width)
			for j := range width {
				row[j] = be.Uint32(b[8+4*(i*width+j):])
			}
			out[i] = row
		}
		return out
	}
	var sizes []uint32
	stsz := MP4Box(stbl, "stsz")
	if fixed := be.Uint32(stsz[4:]); fixed != 0 {
		for range be.Uint32(stsz[8:]) {
			sizes = append(sizes, fixed)
		}
	} else {
		for i := range be.Uint32(stsz[8:]) {
			sizes = append(sizes, be.Uint32(stsz[12+4*i:]))
		}
	}
	n := len(sizes)
	var chunks []uint64
	if co := table("stco", 1); co != nil {
		for _, r := range co {
			chunks = append(chunks, uint64(r[0]))
		}
	} else {
		for _, r := range table("co64", 2) {
			chunks = append(chunks, uint64(r[0])<<32|uint64(r[1]))
		}
	}
	offsets := make([]uint64, 0, n)
	stsc := table("stsc", 3)
	for i, e := range stsc {
		last := uint32(len(chunks))
		if i+1 < len(stsc) {
			last = stsc[i+1][0] - 1
		}
		for c := e[0]; c <= last; c++ {
			off := chunks[c-1]
			for range e[1] {
				offsets = append(offsets, off)
				off += uint64(sizes[len(offsets)-1])
			}
		}
	}
	dts := make([]int64, 0, n)
	var d int64
	for _, e := range table("stts", 2) {
		for range e[0] {
			dts = append(dts, d)
			d += int64(e[1])
		}
	}
	cts := make([]int64, n)
	i := 0
	for _, e := range table("ctts", 2) {
		for range e[0] {
			cts[i] = int64(int32(e[1]))
			i++
		}
	}
	sync := map[int]bool{}
	stss := table("stss", 1)
	for _, e := range stss {
		sync[int(e[0])-1] = true
	}
	mdhd := MP4Path(moovTrakOf(moov, stbl), "mdia", "mdhd")
	scale := int64(be.Uint32(mdhd[12:]))
	if mdhd[0] == 1 {
		scale = int64(be.Uint32(mdhd[20:]))
	}
	if len(offsets) != n || len(dts) != n {
		return nil, fmt.Errorf("sample table: %d sizes, %d offsets, %d times", n, len(offsets), len(dts))
	}

	var aus []*media.AccessUnit
	var pts0 int64
	for i := range n {
		sample := file[offsets[i] : offsets[i]+uint64(sizes[i])]
		var nalus [][]byte
		for len(sample) >= 4 {
			l := int(be.Uint32(sample))
			nalus = append(nalus, sample[4:4+l])
			sample = sample[4+l:]
		}
		if _, err := params.Update(nalus); err != nil {
			return nil, err
		}
		key := media.IsKey(params.Codec, nalus)
		if stss != nil && key != sync[i] && params.Codec == media.CodecH264 {
			return nil, fmt.Errorf("sample %d: stss says sync %v, NAL units say key %v", i, sync[i], key)
		}
		pts := (dts[i] + cts[i]) * media.ClockRate / scale
		if len(aus) == 0 {
			if !key {
				continue
			}
			pts0 = pts
		}
		if key {
			nalus = params.Prepend(nalus)
		}
		aus = append(aus, NewAU(params.Codec, nalus, pts-pts0, key, params.Width, params.Height, 1))
	}
	return aus, nil
}

// moovTrakOf returns the trak box that contains stbl.
func moovTrakOf(moov, stbl []byte) []byte {
	for rest := moov; ; {
		trak := MP4Box(rest, "trak")
		if trak == nil {
			return nil
		}
		if bytes.Contains(trak, stbl) {
			return trak
		}
		rest = rest[bytes.Index(rest, trak)+len(trak):]
	}
}

// NewAU builds an access unit that owns its NAL unit memory, as ingest
// does, with Time at Epoch plus its PTS.
func NewAU(codec media.Codec, nalus [][]byte, pts int64, key bool, w, h int, session uint64) *media.AccessUnit {
	owned := media.CopyNALUs(nalus)
	return &media.AccessUnit{Codec: codec, NALUs: owned, PTS: pts, Key: key, Width: w, Height: h, Session: session,
		Time: Epoch.Add(media.TicksToDuration(pts))}
}

// restamp copies access units onto another place of the timeline: PTS and
// Time shifted by shift, the given session; copies own their memory.
func Restamp(aus []*media.AccessUnit, shift time.Duration, session uint64) []*media.AccessUnit {
	out := make([]*media.AccessUnit, len(aus))
	for i, au := range aus {
		c := NewAU(au.Codec, au.NALUs, au.PTS+media.DurationToTicks(shift), au.Key, au.Width, au.Height, session)
		c.Gap = au.Gap
		out[i] = c
	}
	return out
}

// looped plays a stream n times back to back on one continuous timeline.
func Looped(s []*media.AccessUnit, n int) []*media.AccessUnit {
	span := Span(s)
	var out []*media.AccessUnit
	for i := range n {
		out = append(out, Restamp(s, time.Duration(i)*span, 1)...)
	}
	return out
}

// Span is the presentation length of a stream: last PTS plus a frame.
func Span(aus []*media.AccessUnit) time.Duration {
	var maxPTS int64
	for _, au := range aus {
		maxPTS = max(maxPTS, au.PTS)
	}
	return media.TicksToDuration(maxPTS + media.ClockRate/25)
}
