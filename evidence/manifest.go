package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/violation"
)

// ManifestVersion is the manifest format's version.
const ManifestVersion = 1

// Manifest describes one violation's evidence and proves its files are
// unchanged: the SHA-256 of every file, optionally signed.
type Manifest struct {
	Version     int             `json:"manifest_version"`
	Violation   ViolationRecord `json:"violation"`
	Camera      CameraRecord    `json:"camera"`
	Models      []ModelRecord   `json:"models,omitempty"`
	StreetWatch string          `json:"streetwatch_version"`
	Clip        *ClipRecord     `json:"clip,omitempty"`
	Files       []FileRecord    `json:"files"`
	CreatedAt   time.Time       `json:"created_at"`
	Notes       []string        `json:"notes,omitempty"`
	Extra       map[string]any  `json:"extra,omitempty"`

	signature *SignatureRecord
}

// ViolationRecord is the violation as the confirmation stage saw it,
// with the times of the frames its snapshots show. Its JSON is the
// manifest's "violation" object (see violationJSON); the camera is not
// repeated there: decoding fills Camera from the manifest's camera.
type ViolationRecord struct {
	violation.Record
	BestAt  time.Time // the best frame (snapshot.jpg)
	ActorAt time.Time // when the actor's picture was taken (dumping; zero otherwise)
}

// violationJSON is the persisted form of ViolationRecord in manifests and
// pending events. Manifests are signed and verified byte for byte: never
// change a field's name, order or shape here.
type violationJSON struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Zone        string     `json:"zone"`
	TrackID     uint64     `json:"track_id"`
	Class       string     `json:"class"`
	FirstSeen   time.Time  `json:"first_seen"`
	ConfirmedAt time.Time  `json:"confirmed_at"`
	Confidence  float32    `json:"confidence"`
	Box         [4]float32 `json:"box"` // x1, y1, x2, y2 in native pixels
	BestAt      time.Time  `json:"best_frame_at"`
	ActorClass  string     `json:"actor_class,omitempty"`
	ActorTrack  uint64     `json:"actor_track_id,omitempty"`
	ActorAt     time.Time  `json:"actor_frame_at,omitzero"`
	Signals     []string   `json:"signals,omitempty"` // added later: absent in older manifests
}

// MarshalJSON writes the persisted form.
func (v ViolationRecord) MarshalJSON() ([]byte, error) {
	r := v.Record
	return json.Marshal(violationJSON{ID: r.ID, Type: string(r.Type), Zone: r.Zone, TrackID: r.TrackID, Class: r.Class,
		FirstSeen: r.FirstSeen, ConfirmedAt: r.ConfirmedAt, Confidence: r.Confidence,
		Box: [4]float32{r.Box.X1, r.Box.Y1, r.Box.X2, r.Box.Y2}, BestAt: v.BestAt,
		ActorClass: r.ActorClass, ActorTrack: r.ActorTrackID, ActorAt: v.ActorAt, Signals: r.Signals})
}

// UnmarshalJSON reads the persisted form; unknown fields are errors, as
// everywhere in a manifest. Camera stays as it was.
func (v *ViolationRecord) UnmarshalJSON(data []byte) error {
	var w violationJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	v.Record = violation.Record{ID: w.ID, Type: violation.Type(w.Type), Camera: v.Camera, Zone: w.Zone, TrackID: w.TrackID,
		Class: w.Class, FirstSeen: w.FirstSeen, ConfirmedAt: w.ConfirmedAt, Confidence: w.Confidence,
		Box:        geom.Box{X1: w.Box[0], Y1: w.Box[1], X2: w.Box[2], Y2: w.Box[3]},
		ActorClass: w.ActorClass, ActorTrackID: w.ActorTrack, Signals: w.Signals}
	v.BestAt, v.ActorAt = w.BestAt, w.ActorAt
	return nil
}

// UnmarshalJSON reads a pending event (written by json.Marshal of Event)
// and fills its record's camera, which the persisted form does not repeat.
func (e *Event) UnmarshalJSON(data []byte) error {
	type plain Event // without this method
	if err := json.Unmarshal(data, (*plain)(e)); err != nil {
		return err
	}
	e.Violation.Camera = e.Camera.ID
	return nil
}

// CameraRecord names the camera and where it is (never its URL: it may
// carry credentials).
type CameraRecord struct {
	ID       string     `json:"id"`
	Name     string     `json:"name,omitempty"`
	Location string     `json:"location,omitempty"`
	LatLon   [2]float64 `json:"lat_lon,omitzero"`
}

// ModelRecord names a model that produced the detections.
type ModelRecord struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// ClipRecord describes the clip.
type ClipRecord struct {
	Codec    string    `json:"codec"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Duration float64   `json:"duration_s"`
	Frames   int       `json:"frames"`
	// Truncated is set when the history did not reach back to the
	// requested start, or the camera dropped during post-roll.
	Truncated bool `json:"truncated,omitempty"`
}

// FileRecord is one file and its hash.
type FileRecord struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// SignatureRecord is an Ed25519 signature over the manifest's exact bytes.
type SignatureRecord struct {
	Algorithm string `json:"algorithm"` // "ed25519"
	KeyID     string `json:"key_id"`    // first 16 hex digits of SHA-256(public key)
	PublicKey string `json:"public_key"`
	Value     string `json:"value"` // base64
}

// signedFile is manifest.json: the manifest's bytes exactly as signed, and
// the signature (absent when unsigned).
type signedFile struct {
	Manifest  json.RawMessage  `json:"manifest"`
	Signature *SignatureRecord `json:"signature,omitempty"`
}

// HashFile adds a file's record (size, SHA-256) to the manifest.
func (m *Manifest) HashFile(f File) error {
	var r io.Reader
	if f.Data != nil {
		r = bytes.NewReader(f.Data)
	} else {
		fh, err := os.Open(f.Path)
		if err != nil {
			return fmt.Errorf("evidence: hash %s: %w", f.Name, err)
		}
		defer fh.Close()
		r = fh
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("evidence: hash %s: %w", f.Name, err)
	}
	m.Files = append(m.Files, FileRecord{Name: f.Name, ContentType: f.ContentType, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// Encode writes the manifest file, signed with key when key is not nil.
func (m *Manifest) Encode(key ed25519.PrivateKey) ([]byte, error) {
	body, err := json.MarshalIndent(m, "  ", "  ")
	if err != nil {
		return nil, fmt.Errorf("evidence: manifest: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString("{\n  \"manifest\": ")
	buf.Write(body)
	if key != nil {
		pub := key.Public().(ed25519.PublicKey)
		sig, err := json.Marshal(SignatureRecord{
			Algorithm: "ed25519", KeyID: KeyID(pub),
			PublicKey: base64.StdEncoding.EncodeToString(pub),
			Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)),
		})
		if err != nil {
			return nil, err
		}
		buf.WriteString(",\n  \"signature\": ")
		buf.Write(sig)
	}
	buf.WriteString("\n}\n")
	return buf.Bytes(), nil
}

// DecodeManifest parses a manifest file. The signature, if any, is checked
// by Verify.
func DecodeManifest(data []byte) (*Manifest, error) {
	var f signedFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("evidence: manifest: %w", err)
	}
	if len(f.Manifest) == 0 {
		return nil, errors.New("evidence: manifest: no \"manifest\" object")
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(f.Manifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("evidence: manifest: %w", err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("evidence: manifest version %d, this StreetWatch reads %d", m.Version, ManifestVersion)
	}
	m.signature = f.Signature
	m.Violation.Camera = m.Camera.ID
	return &m, nil
}

// Signature returns the manifest's signature record (nil when unsigned).
func (m *Manifest) Signature() *SignatureRecord { return m.signature }

// VerifyResult is what Verify found.
type VerifyResult struct {
	Files    int    // files whose hash matched
	Signed   bool   // a signature was present and valid
	KeyID    string // the signing key
	Problems []string
}

// OK tells whether everything checked out.
func (r *VerifyResult) OK() bool { return len(r.Problems) == 0 }

// Verify checks a manifest file against its files: open returns a file's
// contents by name. With trusted keys, the signature must be by one of
// them; a valid signature by another key is a problem (anyone can sign).
// requireSignature makes an unsigned manifest a problem.
func Verify(manifestData []byte, open func(name string) (io.ReadCloser, error), trusted []ed25519.PublicKey, requireSignature bool) (*VerifyResult, error) {
	var f signedFile
	if err := json.Unmarshal(manifestData, &f); err != nil {
		return nil, fmt.Errorf("evidence: manifest: %w", err)
	}
	m, err := DecodeManifest(manifestData)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	switch sig := f.Signature; {
	case sig == nil:
		if requireSignature || len(trusted) > 0 {
			res.Problems = append(res.Problems, "manifest is not signed")
		}
	case sig.Algorithm != "ed25519":
		res.Problems = append(res.Problems, fmt.Sprintf("unknown signature algorithm %q", sig.Algorithm))
	default:
		pub, err1 := base64.StdEncoding.DecodeString(sig.PublicKey)
		val, err2 := base64.StdEncoding.DecodeString(sig.Value)
		if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize {
			res.Problems = append(res.Problems, "signature: malformed public key or value")
			break
		}
		if !ed25519.Verify(pub, f.Manifest, val) {
			res.Problems = append(res.Problems, "signature does not match the manifest: the manifest was changed")
			break
		}
		res.KeyID = KeyID(pub)
		if len(trusted) > 0 {
			known := false
			for _, k := range trusted {
				known = known || bytes.Equal(k, pub)
			}
			if !known {
				res.Problems = append(res.Problems, fmt.Sprintf("signed by key %s, which is not a trusted key", res.KeyID))
				break
			}
		}
		res.Signed = true
	}
	for _, fr := range m.Files {
		if fr.Name == "" || strings.ContainsAny(fr.Name, "/\\") || fr.Name == ManifestName {
			res.Problems = append(res.Problems, fmt.Sprintf("bad file name %q in manifest", fr.Name))
			continue
		}
		rc, err := open(fr.Name)
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: cannot read: %v", fr.Name, err))
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		switch {
		case err != nil:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: read: %v", fr.Name, err))
		case hex.EncodeToString(h.Sum(nil)) != fr.SHA256 || n != fr.Size:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: SHA-256 or size differs from the manifest: the file was changed", fr.Name))
		default:
			res.Files++
		}
	}
	return res, nil
}

// ParsePrivateKey reads an Ed25519 private key: base64 or hex of the
// 32-byte seed or the 64-byte key, or a PEM "PRIVATE KEY" (PKCS #8).
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	raw, err := parseKeyBytes(data, true)
	if err != nil {
		return nil, err
	}
	switch k := raw.(type) {
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, errors.New("evidence: not an Ed25519 private key")
}

// ParsePublicKey reads an Ed25519 public key: base64 or hex of its 32
// bytes, or a PEM "PUBLIC KEY" (PKIX).
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	raw, err := parseKeyBytes(data, false)
	if err != nil {
		return nil, err
	}
	switch k := raw.(type) {
	case ed25519.PublicKey:
		return k, nil
	case ed25519.PrivateKey:
		return k.Public().(ed25519.PublicKey), nil
	}
	return nil, errors.New("evidence: not an Ed25519 public key")
}
