// Command streetwatch is StreetWatch's one binary. This file only parses the
// command line and wires the packages; the work happens in them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `streetwatch turns street and garbage-station cameras into evidence-backed tickets.

Usage:
  streetwatch run --config FILE             run the pipeline
  streetwatch check-config --config FILE    validate a config file and exit
  streetwatch simulate [flags] NAME=FILE... serve video files as live RTSP cameras
  streetwatch demo [flags]                  simulated cameras + the pipeline, on localhost
  streetwatch verify-evidence PATH|URL      check evidence files against their (signed) manifest
  streetwatch hash-password < FILE          bcrypt hash of a password (stdin) for review.users
  streetwatch import-weighings --config FILE --station ID FILE.csv
                                            store a weighbridge's CSV export of weighing records
  streetwatch export-dataset --config FILE --since DAY --out DIR
                                            reviewed cases as a YOLO dataset, for retraining
  streetwatch version                       print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "check-config":
		err = cmdCheckConfig(args[1:], stdout, stderr)
	case "simulate":
		err = cmdSimulate(ctx, args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "verify-evidence":
		err = cmdVerifyEvidence(ctx, args[1:], stdout, stderr)
	case "hash-password":
		err = cmdHashPassword(args[1:], os.Stdin, stdout, stderr)
	case "import-weighings":
		err = cmdImportWeighings(ctx, args[1:], stdout, stderr)
	case "export-dataset":
		err = cmdExportDataset(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "streetwatch", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "streetwatch: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errVerify) || errors.Is(err, errRowsRejected) {
			return 1 // the problems are already printed
		}
		fmt.Fprintln(stderr, "streetwatch:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }
