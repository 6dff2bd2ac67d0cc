package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/internal/miniotest"
	"github.com/streetwatch/streetwatch/violation"
)

// datasetCase is a ticket of the export test and what a reviewer made of it.
type datasetCase struct {
	class  string
	to     dispatch.Status // "" leaves it pending
	reason string
	tamper bool // the stored snapshot no longer matches its manifest
}

// A period's reviewed cases become a YOLO dataset: each confirmation's
// snapshot with its object (class numbered as the model numbers it), each
// false positive as a background image; pending cases, duplicates, an
// object of no model class and a snapshot that fails its manifest are not
// exported (the last two said on stderr). The index maps images back to
// tickets, and train.py fine-tunes from the folder. The evidence is read
// from a local folder and from S3 (a real MinIO server).
func TestExportDatasetWritesReviewedCasesAsYOLO(t *testing.T) {
	t.Run("local", func(t *testing.T) { exportDataset(t, nil) })
	t.Run("s3", func(t *testing.T) { exportDataset(t, miniotest.Start(t)) })
}

func exportDataset(t *testing.T, s3 *miniotest.Server) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sw.yaml")
	state, evDir := filepath.Join(dir, "state"), filepath.Join(dir, "evidence")
	evidenceYAML := fmt.Sprintf("{dir: %s}", evDir)
	ctx := context.Background()
	var store evidence.Store = &evidence.LocalStore{Dir: evDir}
	if s3 != nil {
		s3cfg := evidence.S3Config{Endpoint: s3.Endpoint, Bucket: "dataset-test", AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, CreateBucket: true}
		st, err := evidence.NewS3Store(ctx, s3cfg)
		if err != nil {
			t.Fatal(err)
		}
		store = st
		evidenceYAML = fmt.Sprintf("{s3: {endpoint: %s, bucket: %s, access_key: %s, secret_key: %s}}", s3cfg.Endpoint, s3cfg.Bucket, s3cfg.AccessKey, s3cfg.SecretKey)
	}
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_dir: %s
evidence: %s
review: {timezone: UTC}
detectors: {models: [{name: demo, manifest: %s}]}
cameras:
  - {id: kerb-1, url: rtsp://127.0.0.1:8554/kerb, zones: [{name: kerb, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}]}
`, state, evidenceYAML, filepath.Join(mediatest.Root(), "models", "streetwatch-demo.yaml"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := dispatch.Open(ctx, cfg.Dispatch, cfg.StateDir, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	box := geom.Box{X1: 320, Y1: 180, X2: 400, Y2: 260} // in a 640x360 snapshot
	cases := []datasetCase{
		{class: "garbage_bag", to: dispatch.StatusConfirmed},
		{class: "garbage_pile", to: dispatch.StatusRejected, reason: dispatch.ReasonFalsePositive},
		{class: "garbage_bag", to: dispatch.StatusRejected, reason: dispatch.ReasonDuplicate},
		{class: "garbage_bag"},
		{class: "left_object", to: dispatch.StatusConfirmed},
		{class: "garbage_bag", to: dispatch.StatusConfirmed, tamper: true},
	}
	var ids []string
	snapshots := map[string][]byte{}
	for i, c := range cases {
		v := violation.Record{ID: fmt.Sprintf("01DATASET0000000000000000%c", 'A'+i), Type: violation.IllegalDumping, Camera: "kerb-1",
			Zone: "kerb", Class: c.class, Box: box, FirstSeen: day.Add(time.Duration(i) * time.Minute), Confidence: 0.8}
		v.ConfirmedAt = v.FirstSeen.Add(30 * time.Second)
		prefix := "2026/11/30/kerb-1/" + v.ID + "/"
		snap := testJPEG(t, i)
		m := &evidence.Manifest{Version: evidence.ManifestVersion, Violation: evidence.ViolationRecord{Record: v}, Camera: evidence.CameraRecord{ID: v.Camera}}
		if err := m.HashFile(evidence.File{Name: snapshotName, ContentType: "image/jpeg", Data: snap}); err != nil {
			t.Fatal(err)
		}
		raw, err := m.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		stored := snap
		if c.tamper {
			stored = testJPEG(t, 99)
		}
		for name, data := range map[string][]byte{snapshotName: stored, evidence.ManifestName: raw} {
			if err := store.Put(ctx, prefix+name, bytes.NewReader(data), int64(len(data)), evidence.ContentType(name)); err != nil {
				t.Fatal(err)
			}
		}
		tk, _, err := svc.CreateTicket(ctx, dispatch.TicketInput{Violation: v, CameraName: "Kerb 1", ModelName: "streetwatch-demo",
			ModelVersion: "0.1.0", EvidencePrefix: prefix, EvidenceFiles: []string{snapshotName, evidence.ManifestName}})
		if err != nil {
			t.Fatal(err)
		}
		if c.to != "" {
			if _, err := svc.Transition(ctx, tk.ID, dispatch.TransitionRequest{To: c.to, Reason: c.reason, Version: tk.Version, Actor: "li"}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, tk.ID)
		snapshots[tk.ID] = snap
	}
	svc.Close()

	out := filepath.Join(dir, "dataset")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export-dataset", "--config", cfgPath, "--since", "2026-11-30", "--until", "2026-11-30", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "1 labelled images, 1 background images, 2 skipped (of 6 tickets") {
		t.Errorf("summary: %s", stdout.String())
	}
	for _, want := range []string{"ticket " + ids[4] + `: skipped: class "left_object" is not one of the model's`,
		"ticket " + ids[5] + ": skipped: snapshot.jpg does not match its manifest"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// garbage_bag is class 2 of the demo model; the box is centred at
	// (360, 220) of 640x360 and 80x80 big.
	if got := read("labels/" + ids[0] + ".txt"); got != "2 0.562500 0.611111 0.125000 0.222222\n" {
		t.Errorf("label of the confirmed case: %q", got)
	}
	if got := read("images/" + ids[0] + ".jpg"); got != string(snapshots[ids[0]]) {
		t.Error("the image is not the evidence snapshot")
	}
	if got := read("labels/" + ids[1] + ".txt"); got != "" {
		t.Errorf("a false positive's label file holds %q, want empty (background)", got)
	}
	for _, id := range ids[2:] {
		if _, err := os.Stat(filepath.Join(out, "images", id+".jpg")); err == nil {
			t.Errorf("ticket %s was exported", id)
		}
	}
	if y := read("data.yaml"); !strings.Contains(y, "train: images\n") || !strings.Contains(y, "  2: garbage_bag\n") || !strings.Contains(y, "  0: person\n") {
		t.Errorf("data.yaml:\n%s", y)
	}
	rows, err := csv.NewReader(strings.NewReader(read("index.csv"))).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][2] != ids[0] || rows[1][3] != "confirmed" || rows[2][2] != ids[1] ||
		rows[2][4] != dispatch.ReasonFalsePositive || rows[1][9] != "streetwatch-demo 0.1.0" {
		t.Errorf("index.csv: %v %q", err, rows)
	}

	// Bad flags name themselves.
	stderr.Reset()
	if code := run([]string{"export-dataset", "--config", cfgPath, "--since", "2026-12-01", "--until", "2026-11-30", "--out", out}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "--until: must not be before") {
		t.Errorf("until before since: exit %d: %s", code, stderr.String())
	}
	if s3 != nil {
		return // the dataset is the same; train once
	}

	// The retraining loop's last step: train.py takes the folder (a
	// tiny run: the point is that it reads the dataset and fine-tunes).
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = mediatest.Tool(t, "python3")
	}
	if err := exec.Command(py, "-c", "import torch, cv2, numpy, onnx").Run(); err != nil {
		mediatest.Missing(t, "python3-torch, python3-opencv, python3-numpy and python3-onnx (scripts/setup.sh): %v", err)
	}
	trainPy := filepath.Join(mediatest.Root(), "models", "train", "train.py")
	tiny := []string{trainPy, "--train-images", "8", "--val-images", "4", "--test-images", "4", "--iters", "2", "--batch", "4",
		"--threads", "1", "--cache", filepath.Join(dir, "cache")}
	if b, err := exec.Command(py, append(tiny, "--out", filepath.Join(dir, "base"))...).CombinedOutput(); err != nil {
		t.Fatalf("train.py: %v\n%s", err, b)
	}
	b, err := exec.Command(py, append(tiny, "--out", filepath.Join(dir, "tuned"), "--init", filepath.Join(dir, "cache", "streetwatch-demo.pt"),
		"--extra", out, "--extra-repeat", "2", "--version", "0.2.0")...).CombinedOutput()
	if err != nil {
		t.Fatalf("train.py --extra: %v\n%s", err, b)
	}
	for _, want := range []string{"extra " + out + ": 2 images (1 background), each used 2x", "starting from "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("train.py --extra output lacks %q:\n%s", want, b)
		}
	}
	if man, err := os.ReadFile(filepath.Join(dir, "tuned", "streetwatch-demo.yaml")); err != nil || !strings.Contains(string(man), "version: 0.2.0") {
		t.Errorf("fine-tuned manifest: %v\n%s", err, man)
	}

}

// testJPEG is a 640x360 JPEG that differs with n.
func testJPEG(t *testing.T, n int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 640, 360))
	for y := range 360 {
		for x := range 640 {
			img.Set(x, y, color.RGBA{R: uint8(x + n), G: uint8(y), B: uint8(n * 7), A: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
