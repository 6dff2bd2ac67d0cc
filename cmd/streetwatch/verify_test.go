package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/violation"
)

// bundle writes a signed evidence bundle to a folder and returns the
// folder and the signer's public key.
func bundle(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &evidence.Manifest{Version: evidence.ManifestVersion, StreetWatch: "test", CreatedAt: time.Now().UTC(),
		Violation: evidence.ViolationRecord{Record: violation.Record{ID: "01JTEST", Type: violation.IllegalDumping, Camera: "cam"}}, Camera: evidence.CameraRecord{ID: "cam"}}
	for name, data := range map[string][]byte{"clip.mp4": bytes.Repeat([]byte{7}, 5000), "snapshot.jpg": []byte("jpeg bytes")} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := m.HashFile(evidence.File{Name: name, Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := m.Encode(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, evidence.ManifestName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, pub
}

func verify(args ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := run(append([]string{"verify-evidence"}, args...), &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestVerifyEvidence(t *testing.T) {
	dir, pub := bundle(t)
	keyFile := filepath.Join(t.TempDir(), "pub.hex")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := verify("--public-key", keyFile, dir); code != 0 || !strings.Contains(out, "OK") || !strings.Contains(out, "2 files") {
		t.Fatalf("an intact bundle: exit %d\n%s", code, out)
	}

	// Served over HTTP, files fetched next to the manifest.
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	if code, out := verify("--public-key", keyFile, srv.URL+"/manifest.json"); code != 0 {
		t.Fatalf("over HTTP: exit %d\n%s", code, out)
	}

	// Another key: the signature is valid but not by the trusted signer.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherFile := filepath.Join(t.TempDir(), "other.hex")
	_ = os.WriteFile(otherFile, []byte(hex.EncodeToString(other)), 0o644)
	if code, out := verify("--public-key", otherFile, dir); code != 1 || !strings.Contains(out, "not a trusted key") {
		t.Fatalf("wrong signer: exit %d\n%s", code, out)
	}

	// One byte of the clip changed: fails and names the file.
	clip := filepath.Join(dir, "clip.mp4")
	data, _ := os.ReadFile(clip)
	data[2500] ^= 1
	if err := os.WriteFile(clip, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(dir); code != 1 || !strings.Contains(out, "clip.mp4") || strings.Contains(out, "snapshot.jpg:") {
		t.Fatalf("a tampered clip: exit %d\n%s", code, out)
	}
}

func TestVerifyEvidenceDetectsAnEditedManifest(t *testing.T) {
	dir, _ := bundle(t)
	p := filepath.Join(dir, evidence.ManifestName)
	data, _ := os.ReadFile(p)
	// Someone changes the violation type (and keeps the JSON valid).
	edited := bytes.Replace(data, []byte(`"illegal_dumping"`), []byte(`"garbage_pile"`), 1)
	if bytes.Equal(edited, data) {
		t.Fatal("test bundle has no violation type to edit")
	}
	if err := os.WriteFile(p, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(dir); code != 1 || !strings.Contains(out, "signature does not match") {
		t.Fatalf("an edited manifest: exit %d\n%s", code, out)
	}
	// Unsigned manifests fail when a signature is required.
	dir2 := t.TempDir()
	m := &evidence.Manifest{Version: evidence.ManifestVersion}
	data, _ = m.Encode(nil)
	_ = os.WriteFile(filepath.Join(dir2, evidence.ManifestName), data, 0o644)
	if code, out := verify("--require-signature", dir2); code != 1 || !strings.Contains(out, "not signed") {
		t.Fatalf("unsigned with --require-signature: exit %d\n%s", code, out)
	}
}
