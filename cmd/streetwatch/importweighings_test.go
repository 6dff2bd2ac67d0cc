package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/internal/pgtest"
	"github.com/streetwatch/streetwatch/stations"
)

const importToken = "import-test-token-0123456789"

// importFixture is a config with two stations and a token source, in a
// temporary folder that is the working directory, so files are named as
// a user would type them.
func importFixture(t *testing.T) (cfgPath, dbPath string) {
	t.Helper()
	t.Setenv("SW_IMPORT_TEST_TOKEN", importToken)
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := `state_dir: state
cameras:
  - id: station-07
    url: rtsp://127.0.0.1:8554/station-07
stations:
  - {id: baiyun-07, name: 白云七站}
  - {id: baiyun-08}
weighing:
  sources:
    - {id: bridge-07, stations: [baiyun-07], token: '${SW_IMPORT_TEST_TOKEN}'}
`
	if err := os.WriteFile("sw.yaml", []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return "sw.yaml", filepath.Join(dir, "state", "tickets.db")
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runImport(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"import-weighings"}, args...), &out, &errOut)
	for _, s := range []string{out.String(), errOut.String()} {
		if strings.Contains(s, importToken) {
			t.Errorf("import-weighings printed a source credential:\n%s", s)
		}
	}
	return code, out.String(), errOut.String()
}

func storedWeighings(t *testing.T, dbPath string) []stations.Weighing {
	t.Helper()
	db, err := dispatch.OpenSQLite(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := db.WeighingsReceivedAfter(context.Background(), 0, 5000)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func TestImportWeighingsReportsBadRowsByLineImportsTheRestAndIsIdempotent(t *testing.T) {
	cfg, dbPath := importFixture(t)
	writeFile(t, "records.csv", "record_id,time,net_kg,gross_kg,tare_kg,plate,operator\n"+
		"W-1,2026-12-03 08:15:00,8200,23200,15000,粤A12345,王芳\n"+ // line 2: local time (Asia/Shanghai)
		"W-2,2026-12-03 08:40:00,0,,,粤A54321,\n"+ // line 3: net 0
		"W-3,2026-12-03T09:00:00+08:00,7100.5,,,,\n"+ // line 4: RFC 3339
		"W-4,yesterday,6000,,,,\n"+ // line 5: time
		"W-5,2026-12-03 09:30:00\n"+ // line 6: short row
		"W-6,2026-12-03 09:45:00,6000,23000,15000,,\n") // line 7: gross − tare ≠ net

	code, stdout, stderr := runImport(t, "--config", cfg, "--station", "baiyun-07", "records.csv")
	if code != 1 {
		t.Errorf("exit %d, want 1 (bad rows)", code)
	}
	wantErr := []string{
		"records.csv:3: net_kg: must be > 0 (got 0)",
		`records.csv:5: time: expected RFC 3339 (2026-01-02T15:04:05+08:00) or "2006-01-02 15:04:05" in Asia/Shanghai (got "yesterday")`,
		"records.csv:6: csv: 2 cells, the header has 7",
		"records.csv:7: gross_kg: gross_kg − tare_kg = 8000, but net_kg is 6000 (they must agree within 1 kg)",
	}
	if got := strings.Split(strings.TrimSpace(stderr), "\n"); strings.Join(got, "\n") != strings.Join(wantErr, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(wantErr, "\n"))
	}
	if want := "records.csv: 6 rows: 2 stored, 0 duplicate, 4 bad\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	got := storedWeighings(t, dbPath)
	if len(got) != 2 {
		t.Fatalf("%d records stored, want 2: %+v", len(got), got)
	}
	w1 := got[0]
	if w1.Source != "import" || w1.Station != "baiyun-07" || w1.RecordID != "W-1" || !w1.Time.Equal(time.Date(2026, 12, 3, 0, 15, 0, 0, time.UTC)) ||
		w1.NetKG != 8200 || *w1.GrossKG != 23200 || w1.Plate != "粤A12345" || w1.Operator != "王芳" {
		t.Errorf("W-1 stored as %+v", w1)
	}
	if got[1].RecordID != "W-3" || got[1].NetKG != 7100.5 || got[1].GrossKG != nil {
		t.Errorf("W-3 stored as %+v", got[1])
	}

	// Again: nothing is stored twice; the bad rows are still bad.
	code, stdout, _ = runImport(t, "--config", cfg, "--station", "baiyun-07", "records.csv")
	if code != 1 || stdout != "records.csv: 6 rows: 0 stored, 2 duplicate, 4 bad\n" {
		t.Errorf("re-import: exit %d, %q", code, stdout)
	}
	if n := len(storedWeighings(t, dbPath)); n != 2 {
		t.Errorf("%d records after re-import, want 2", n)
	}

	// Fixed rows: exit 0; a changed record is refused by line and the first stays.
	writeFile(t, "fixed.csv", "net_kg,record_id,time\n5000,W-2,2026-12-03 08:40:00\n6000,W-4,2026-12-03 09:10:00\n")
	if code, stdout, stderr := runImport(t, "--config", cfg, "--station", "baiyun-07", "fixed.csv"); code != 0 || stdout != "fixed.csv: 2 rows: 2 stored, 0 duplicate, 0 bad\n" || stderr != "" {
		t.Errorf("fixed file: exit %d, %q, stderr %q", code, stdout, stderr)
	}
	writeFile(t, "changed.csv", "record_id,time,net_kg\nW-3,2026-12-03T09:00:00+08:00,7200\n")
	code, _, stderr = runImport(t, "--config", cfg, "--station", "baiyun-07", "changed.csv")
	if code != 1 || !strings.HasPrefix(stderr, `changed.csv:2: record_id: "W-3" is already stored for source import with other content (weighed 2026-12-03 09:00:00, net 7100.5 kg)`) {
		t.Errorf("changed record: exit %d, stderr %q", code, stderr)
	}
	if got := storedWeighings(t, dbPath); len(got) != 4 || got[1].NetKG != 7100.5 {
		t.Errorf("after a conflicting import: %+v", got)
	}
}

func TestImportWeighingsRefusesWhatItCannotImport(t *testing.T) {
	cfg, dbPath := importFixture(t)
	writeFile(t, "records.csv", "record_id,time,net_kg\nW-1,2026-12-03 08:15:00,8200\n")
	writeFile(t, "weights.csv", "id,time,net_kg\nW-1,2026-12-03 08:15:00,8200\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no station", []string{"--config", cfg, "records.csv"}, 2, "--station and one CSV file are required"},
		{"unknown station", []string{"--config", cfg, "--station", "baiyun-99", "records.csv"}, 1, "--station baiyun-99: no such station"},
		{"source not for the station", []string{"--config", cfg, "--station", "baiyun-08", "--source", "bridge-07", "records.csv"}, 1, "--source bridge-07 may not post for station baiyun-08"},
		{"bad source id", []string{"--config", cfg, "--station", "baiyun-07", "--source", "Bridge 7", "records.csv"}, 2, `--source "Bridge 7"`},
		{"unknown time zone", []string{"--config", cfg, "--station", "baiyun-07", "--tz", "Mars/Olympus", "records.csv"}, 2, `--tz: unknown time zone "Mars/Olympus"`},
		{"bad header", []string{"--config", cfg, "--station", "baiyun-07", "weights.csv"}, 1, `weights.csv: line 1: unknown column "id"`},
		{"no file", []string{"--config", cfg, "--station", "baiyun-07", "missing.csv"}, 1, "missing.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runImport(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, tc.code, tc.want)
			}
		})
	}
	if _, err := os.Stat(dbPath); err == nil {
		if n := len(storedWeighings(t, dbPath)); n != 0 {
			t.Errorf("%d records stored by refused imports", n)
		}
	}
	// A configured source may import for its own station, and its --tz wins.
	code, stdout, stderr := runImport(t, "--config", cfg, "--station", "baiyun-07", "--source", "bridge-07", "--tz", "UTC", "records.csv")
	if code != 0 || stdout != "records.csv: 1 rows: 1 stored, 0 duplicate, 0 bad\n" {
		t.Fatalf("exit %d %q %q", code, stdout, stderr)
	}
	if got := storedWeighings(t, dbPath); len(got) != 1 || got[0].Source != "bridge-07" || !got[0].Time.Equal(time.Date(2026, 12, 3, 8, 15, 0, 0, time.UTC)) {
		t.Errorf("stored %+v, want bridge-07's record at 08:15 UTC", got)
	}
}

// A long file is stored a batch at a time; line numbers and counts hold
// across batches.
func TestImportWeighingsOfALongFileKeepsLineNumbersAcrossBatches(t *testing.T) {
	cfg, dbPath := importFixture(t)
	var b strings.Builder
	b.WriteString("record_id,time,net_kg\n")
	for i := range 1203 {
		net := "5000"
		if i == 700 {
			net = "-1" // line 702
		}
		fmt.Fprintf(&b, "L-%d,2026-12-03T%02d:%02d:00+08:00,%s\n", i, i/60%24, i%60, net)
	}
	writeFile(t, "long.csv", b.String())
	code, stdout, stderr := runImport(t, "--config", cfg, "--station", "baiyun-07", "long.csv")
	if code != 1 || stdout != "long.csv: 1203 rows: 1202 stored, 0 duplicate, 1 bad\n" || stderr != "long.csv:702: net_kg: must be > 0 (got -1)\n" {
		t.Errorf("exit %d, %q, stderr %q", code, stdout, stderr)
	}
	if n := len(storedWeighings(t, dbPath)); n != 1202 {
		t.Errorf("%d records stored, want 1202", n)
	}
}

// With dispatch.database a PostgreSQL URL, import-weighings stores the
// records there, as run would.
func TestImportWeighingsIntoPostgreSQL(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	cfg, dbPath := importFixture(t)
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, string(raw)+fmt.Sprintf("dispatch: {database: %q}\n", url))
	writeFile(t, "records.csv", "record_id,time,net_kg\nW-1,2026-12-03 08:15:00,8200\nW-2,2026-12-03 08:40:00,7100\n")
	if code, stdout, stderr := runImport(t, "--config", cfg, "--station", "baiyun-07", "records.csv"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(dbPath); err == nil {
		t.Error("a SQLite file was made beside the PostgreSQL database")
	}
	db, _, err := dispatch.OpenStore(context.Background(), config.Dispatch{Database: url}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.WeighingsReceivedAfter(context.Background(), 0, 10)
	if err != nil || len(got) != 2 || got[0].RecordID != "W-1" || got[1].NetKG != 7100 {
		t.Errorf("stored in PostgreSQL: %+v, %v", got, err)
	}
}
