package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/streetwatch/streetwatch/simulate"
)

func cmdSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8554", "RTSP listen address")
	udp := fs.String("udp-rtp-addr", "", "enable UDP transport on this address (even port; RTCP on the next)")
	speed := fs.Float64("speed", 1, "play this many times faster than real time")
	loop := fs.Bool("loop", true, "loop each file forever; false plays once and ends the stream")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: streetwatch simulate [flags] NAME=FILE [NAME=FILE ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError{fmt.Errorf("simulate: no cameras given")}
	}
	if *speed <= 0 {
		return usageError{fmt.Errorf("simulate: --speed must be > 0")}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	s := &simulate.Server{Addr: *addr, UDPRTPAddress: *udp, Speed: *speed, NoLoop: !*loop, Log: log}
	for _, arg := range fs.Args() {
		name, file, ok := strings.Cut(arg, "=")
		if !ok || name == "" || file == "" {
			return usageError{fmt.Errorf("simulate: %q: expected NAME=FILE", arg)}
		}
		if err := s.Add(name, file); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	defer s.Close()
	for _, arg := range fs.Args() {
		name, _, _ := strings.Cut(arg, "=")
		fmt.Fprintln(stdout, s.URL(name))
	}
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-ctx.Done():
	case <-done:
	}
	return nil
}
