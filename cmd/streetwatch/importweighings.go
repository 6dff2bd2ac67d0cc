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

	db, err := dispatch.OpenSQLite(ctx, dispatch.DatabasePath(cfg.Dispatch, cfg.StateDir))
	if err != nil {
		return err
	}
	defer db.Close()
	var stored, duplicate, bad int
	report := func(line int, probs []stations.Problem) {
		bad++
		for _, p := range probs {
			fmt.Fprintf(stderr, "%s:%d: %s\n", name, line, p)
		}
	}
	for _, row := range rows {
		if len(row.Problems) > 0 {
			report(row.Line, row.Problems)
			continue
		}
		in := row.Input
		in.Station = *station
		now := time.Now().UTC().Truncate(time.Microsecond)
		w, probs := stations.Check(in, *source, loc, now)
		if len(probs) > 0 {
			report(row.Line, probs)
			continue
		}
		w.ReceivedAt = now
		got, result, err := db.PutWeighing(ctx, w)
		if err != nil {
			return fmt.Errorf("%s:%d: %w (rows before it are stored; importing the file again is safe)", name, row.Line, err)
		}
		switch result {
		case stations.ResultStored:
			stored++
		case stations.ResultDuplicate:
			duplicate++
		case stations.ResultConflict:
			report(row.Line, []stations.Problem{{Field: "record_id", Error: fmt.Sprintf("%q is already stored for source %s with other content (weighed %s, net %g kg); a record is never changed",
				w.RecordID, *source, got.Time.In(loc).Format(stations.LocalTimeLayout), got.NetKG)}})
		}
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d stored, %d duplicate, %d bad\n", name, len(rows), stored, duplicate, bad)
	if bad > 0 {
		return errRowsRejected
	}
	return nil
}
