package evidence

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/violation"
)

// testdata/manifest-v1 was written by StreetWatch before the violation
// record became violation.Record (commit 69a5425), signed with the key
// whose seed is 1..32.
const compatDir = "testdata/manifest-v1"

func compatKey() ed25519.PrivateKey {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func TestManifestWrittenBeforeViolationRecordLoadsVerifiesAndReencodesTheSame(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(compatDir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	key := compatKey()
	open := func(name string) (io.ReadCloser, error) { return os.Open(filepath.Join(compatDir, name)) }
	res, err := Verify(data, open, []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || !res.Signed || res.Files != 2 {
		t.Fatalf("verify: %+v", res)
	}

	m, err := DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 6, 0, 0, 123456789, time.UTC)
	want := ViolationRecord{
		Record: violation.Record{ID: "01KOLDMANIFEST0000000000AB", Type: violation.IllegalDumping, Camera: "station-7",
			Zone: "pavement <kerb>", TrackID: 17, Class: "garbage_bag", FirstSeen: at, ConfirmedAt: at.Add(75 * time.Second),
			Confidence: 0.83, Box: geom.Box{X1: 300.5, Y1: 200, X2: 360, Y2: 260.25}, ActorTrackID: 4, ActorClass: "person"},
		BestAt: at.Add(30 * time.Second), ActorAt: at.Add(-2 * time.Second),
	}
	if !reflect.DeepEqual(m.Violation, want) {
		t.Errorf("violation\n%+v\nwant\n%+v", m.Violation, want)
	}

	// The same manifest written today is the same bytes, so its signature
	// and every hash of it stay valid.
	again, err := m.Encode(key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("re-encoded manifest differs:\n%s\nwas\n%s", again, data)
	}
}

func TestPendingEventRoundTripsItsViolationRecord(t *testing.T) {
	in := Event{Violation: ViolationRecord{Record: violation.Record{ID: "01P", Type: violation.GarbagePile, Camera: "cam",
		Box: geom.Box{X1: 1, Y1: 2, X2: 3, Y2: 4}, Signals: []string{"left_object"}}, BestAt: time.Unix(5, 0).UTC()}, Camera: CameraRecord{ID: "cam"}}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"X1"`)) || !bytes.Contains(raw, []byte(`"box":[1,2,3,4]`)) {
		t.Errorf("pending event JSON %s: the box must stay [x1,y1,x2,y2]", raw)
	}
	var out Event
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Violation, in.Violation) {
		t.Errorf("got %+v, want %+v", out.Violation, in.Violation)
	}
}

func TestManifestViolationRejectsUnknownFields(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(compatDir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(data, []byte(`"track_id": 17,`), []byte(`"track_id": 17, "camera": "x",`), 1)
	if _, err := DecodeManifest(bad); err == nil {
		t.Error("a manifest with an unknown violation field decoded")
	}
}
