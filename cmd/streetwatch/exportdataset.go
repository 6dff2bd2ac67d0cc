package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // snapshot sizes
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/detectors"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
)

// maxExport bounds the tickets one export reads.
const maxExport = 1_000_000

// snapshotName is the evidence file a dataset image is: the best frame,
// without annotations.
const snapshotName = "snapshot.jpg"

// cmdExportDataset writes the reviewed cases of a period as a YOLO
// dataset: a confirmed case's snapshot with its object as the label, a
// case rejected as a false positive as a background image (empty label
// file), data.yaml with the model's class names, and index.csv mapping
// each image back to its ticket.
func cmdExportDataset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export-dataset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "streetwatch.yaml", "config file (the ticket database, the evidence store, the model)")
	since := fs.String("since", "", "first day of the period (2006-01-02, in review.timezone; required)")
	until := fs.String("until", "", "last day of the period (default: today)")
	out := fs.String("out", "", "dataset folder to write (required)")
	modelName := fs.String("model", "", "model whose classes number the labels (default: the first of detectors.models)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: streetwatch export-dataset --config FILE --since DAY --out DIR [flags]\n\n"+
			"  Writes DIR/images/<ticket>.jpg, DIR/labels/<ticket>.txt (YOLO: class cx cy w h, normalised),\n"+
			"  DIR/data.yaml and DIR/index.csv: reviewed confirmations with their object, false positives\n"+
			"  as background images.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 0 || *since == "" || *out == "" {
		fs.Usage()
		return usageError{errors.New("export-dataset: --since and --out are required")}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(cfg.Review.Timezone)
	if err != nil {
		return err
	}
	if *until == "" {
		*until = time.Now().In(loc).Format(time.DateOnly)
	}
	from, to, msg := dispatch.StatsPeriod(*since, *until, loc)
	if msg != "" {
		msg = strings.NewReplacer("from:", "--since:", "to:", "--until:").Replace(msg)
		return usageError{errors.New(msg)}
	}
	classes, err := modelClasses(cfg, *modelName)
	if err != nil {
		return err
	}
	store, err := storeFromConfig(ctx, *cfgPath)
	if err != nil {
		return fmt.Errorf("evidence store: %w", err)
	}
	db, _, err := dispatch.OpenStore(ctx, cfg.Dispatch, cfg.StateDir) // SQLite or PostgreSQL, as run opens it
	if err != nil {
		return err
	}
	defer db.Close()
	verdicts, err := db.Verdicts(ctx, from, to, maxExport)
	if err != nil {
		return err
	}
	ex := &exporter{dir: *out, classes: classes, store: store, db: db, stderr: stderr}
	if err := ex.start(); err != nil {
		return err
	}
	for _, v := range verdicts {
		if err := ex.add(ctx, v); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ex.skipped++
			fmt.Fprintf(stderr, "ticket %s: skipped: %v\n", v.TicketID, err)
		}
	}
	if err := ex.finish(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d labelled images, %d background images, %d skipped (of %d tickets confirmed %s to %s)\n",
		*out, ex.labelled, ex.background, ex.skipped, len(verdicts), *since, *until)
	return nil
}

// modelClasses are the class names of the named model (or the first).
func modelClasses(cfg *config.Config, name string) ([]string, error) {
	for _, ref := range cfg.Detectors.Models {
		if name == "" || ref.Name == name {
			man, err := detectors.LoadManifest(ref.Manifest)
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", ref.Name, err)
			}
			return man.Classes, nil
		}
	}
	if name == "" {
		return nil, errors.New("export-dataset: the config has no detectors.models to number the classes")
	}
	return nil, usageError{fmt.Errorf("--model %s: no such model in detectors.models", name)}
}

// exporter writes one dataset.
type exporter struct {
	dir     string
	classes []string
	store   evidence.Store
	db      dispatch.SQLStore
	stderr  io.Writer
	index   *csv.Writer
	indexF  *os.File

	labelled, background, skipped int
}

var indexColumns = []string{"image", "label", "ticket_id", "verdict", "reject_reason", "type", "class", "camera", "zone",
	"model", "confirmed_at"}

func (e *exporter) start() error {
	for _, d := range []string{"images", "labels"} {
		if err := os.MkdirAll(filepath.Join(e.dir, d), 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(e.dir, "index.csv"))
	if err != nil {
		return err
	}
	e.indexF, e.index = f, csv.NewWriter(f)
	return e.index.Write(indexColumns)
}

// add exports one ticket: a person's confirmation (labelled) or
// rejection as a false positive (background); other tickets are not
// exported (pending, not reviewed, rejected as duplicates or as objects
// that are not violations, whose pictures say nothing about the model).
func (e *exporter) add(ctx context.Context, v dispatch.Verdict) error {
	background := v.To == dispatch.StatusRejected && v.RejectReason == dispatch.ReasonFalsePositive
	if v.To != dispatch.StatusConfirmed && !background {
		return nil
	}
	t, err := e.db.Ticket(ctx, v.TicketID)
	if err != nil {
		return err
	}
	m, err := e.manifest(ctx, t.Evidence.Prefix)
	if err != nil {
		return err
	}
	img, err := e.file(ctx, t.Evidence.Prefix, m, snapshotName)
	if err != nil {
		return err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return fmt.Errorf("%s: %w", snapshotName, err)
	}
	var label string
	if !background {
		id := slices.Index(e.classes, m.Violation.Class)
		if id < 0 {
			return fmt.Errorf("class %q is not one of the model's (%s)", m.Violation.Class, strings.Join(e.classes, ", "))
		}
		if label, err = yoloLine(id, m.Violation.Box.X1, m.Violation.Box.Y1, m.Violation.Box.X2, m.Violation.Box.Y2, cfg.Width, cfg.Height); err != nil {
			return err
		}
	}
	name := t.ID + ".jpg"
	if err := os.WriteFile(filepath.Join(e.dir, "images", name), img, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.dir, "labels", t.ID+".txt"), []byte(label), 0o644); err != nil {
		return err
	}
	verdict := "confirmed"
	if background {
		verdict, e.background = "rejected", e.background+1
	} else {
		e.labelled++
	}
	return e.index.Write([]string{"images/" + name, "labels/" + t.ID + ".txt", t.ID, verdict, v.RejectReason, t.Type,
		m.Violation.Class, t.CameraID, t.Zone, v.Model, t.ConfirmedAt.Format(time.RFC3339)})
}

// yoloLine is a box in YOLO's label format: class, centre and size,
// normalised by the image size, clipped to it.
func yoloLine(class int, x1, y1, x2, y2 float32, w, h int) (string, error) {
	fw, fh := float64(w), float64(h)
	cx1, cy1 := max(0, min(float64(x1), fw)), max(0, min(float64(y1), fh))
	cx2, cy2 := max(0, min(float64(x2), fw)), max(0, min(float64(y2), fh))
	if cx2 <= cx1 || cy2 <= cy1 {
		return "", fmt.Errorf("the object's box %.0f,%.0f-%.0f,%.0f is outside the %dx%d snapshot", x1, y1, x2, y2, w, h)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	return fmt.Sprintf("%d %s %s %s %s\n", class, f((cx1+cx2)/2/fw), f((cy1+cy2)/2/fh), f((cx2-cx1)/fw), f((cy2-cy1)/fh)), nil
}

func (e *exporter) manifest(ctx context.Context, prefix string) (*evidence.Manifest, error) {
	raw, err := e.read(ctx, prefix+evidence.ManifestName)
	if err != nil {
		return nil, err
	}
	return evidence.DecodeManifest(raw)
}

// file reads one of a bundle's files and checks it against the manifest.
func (e *exporter) file(ctx context.Context, prefix string, m *evidence.Manifest, name string) ([]byte, error) {
	i := slices.IndexFunc(m.Files, func(f evidence.FileRecord) bool { return f.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("the bundle has no %s", name)
	}
	raw, err := e.read(ctx, prefix+name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != m.Files[i].SHA256 {
		return nil, fmt.Errorf("%s does not match its manifest (SHA-256): not exported", name)
	}
	return raw, nil
}

func (e *exporter) read(ctx context.Context, key string) ([]byte, error) {
	rc, err := e.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 64<<20))
}

// finish writes data.yaml and closes the index.
func (e *exporter) finish() error {
	e.index.Flush()
	if err := errors.Join(e.index.Error(), e.indexF.Close()); err != nil {
		return err
	}
	abs, err := filepath.Abs(e.dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by streetwatch export-dataset: reviewed cases (index.csv maps images to tickets).\n")
	fmt.Fprintf(&b, "path: %s\ntrain: images\nval: images\nnames:\n", strconv.Quote(abs))
	for i, c := range e.classes {
		fmt.Fprintf(&b, "  %d: %s\n", i, c)
	}
	return os.WriteFile(filepath.Join(e.dir, "data.yaml"), []byte(b.String()), 0o644)
}
