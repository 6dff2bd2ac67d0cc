package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/stations"
)

// importBatch rows are stored in one transaction.
const importBatch = 500

// errRowsRejected: some rows of an import were not stored (exit status 1;
// each is already printed).
var errRowsRejected = errors.New("rows rejected")

// cmdImportWeighings stores a weighbridge's CSV export in the ticket
// database, as if its source had posted each row: a bad row is reported
// as FILE:LINE: field: problem on stderr and the rest are imported;
// importing a file again stores nothing twice.
func cmdImportWeighings(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import-weighings", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "streetwatch.yaml", "config file (stations, the ticket database)")
	station := fs.String("station", "", "station id (from stations) the file's records are for (required)")
	source := fs.String("source", config.ImportSource, "source id stored with the records: record ids are unique per source")
	tz := fs.String("tz", "", "time zone of times written 2006-01-02 15:04:05 (default: weighing.timezone)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: streetwatch import-weighings --config FILE --station ID [flags] FILE.csv\n\n"+
			"  FILE.csv has a header row naming its columns, in any order: %s.\n"+
			"  record_id, time and net_kg are required; time is RFC 3339 or %q.\n\n", strings.Join(stations.CSVColumns(), ","), stations.LocalTimeLayout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 || *station == "" {
		fs.Usage()
		return usageError{errors.New("import-weighings: --station and one CSV file are required")}
	}
	name := fs.Arg(0)
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if _, ok := cfg.Station(*station); !ok {
		return fmt.Errorf("--station %s: no such station in %s's stations", *station, *cfgPath)
	}
	if !config.ValidID(*source) {
		return usageError{fmt.Errorf("--source %q: must be 1-64 lowercase letters, digits, '_' or '-'", *source)}
	}
	for _, src := range cfg.Weighing.Sources {
		if src.ID == *source && !src.MayPost(*station) {
			return fmt.Errorf("--source %s may not post for station %s (weighing.sources)", *source, *station)
		}
	}
	zone := cfg.Weighing.Timezone
	if *tz != "" {
		zone = *tz
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return usageError{fmt.Errorf("--tz: unknown time zone %q", zone)}
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := stations.ReadCSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}

	db, _, err := dispatch.OpenStore(ctx, cfg.Dispatch, cfg.StateDir) // SQLite or PostgreSQL, as run opens it
	if err != nil {
		return err
	}
	defer db.Close()
	var stored, duplicate, bad int
	// Rows are stored a batch (one transaction) at a time; each batch's
	// problems are printed in line order once it is stored.
	for first := 0; first < len(rows); first += importBatch {
		part := rows[first:min(first+importBatch, len(rows))]
		probs := make([][]stations.Problem, len(part))
		var good []stations.Weighing
		var at []int
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i, row := range part {
			if probs[i] = row.Problems; len(probs[i]) > 0 {
				continue
			}
			in := row.Input
			in.Station = *station
			w, p := stations.Check(in, *source, loc, now)
			if probs[i] = p; len(p) > 0 {
				continue
			}
			w.ReceivedAt = now
			good, at = append(good, w), append(at, i)
		}
		puts, err := db.PutWeighings(ctx, good)
		if err != nil {
			return fmt.Errorf("%s:%d: %w (the rows before it are stored; importing the file again is safe)", name, part[0].Line, err)
		}
		for j, put := range puts {
			switch put.Result {
			case stations.ResultStored:
				stored++
			case stations.ResultDuplicate:
				duplicate++
			case stations.ResultConflict:
				probs[at[j]] = []stations.Problem{{Field: "record_id", Error: fmt.Sprintf("%q is already stored for source %s with other content (weighed %s, net %g kg); a record is never changed",
					good[j].RecordID, *source, put.Weighing.Time.In(loc).Format(stations.LocalTimeLayout), put.Weighing.NetKG)}}
			}
		}
		for i, row := range part {
			if len(probs[i]) == 0 {
				continue
			}
			bad++
			for _, p := range probs[i] {
				fmt.Fprintf(stderr, "%s:%d: %s\n", name, row.Line, p)
			}
		}
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d stored, %d duplicate, %d bad\n", name, len(rows), stored, duplicate, bad)
	if bad > 0 {
		return errRowsRejected
	}
	return nil
}
