package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streetwatch/streetwatch/internal/mediatest"
	"github.com/streetwatch/streetwatch/pipeline/ingest"
)

// Run applies its defaults to copies of its own: the caller's Source is
// left as it was set (the stage shape pipeline/doc.go describes).
func TestRunLeavesTheSourcesFieldsAsSet(t *testing.T) {
	s := &ingest.Source{Camera: "cam", URL: "rtsp://" + mediatest.FreeAddr(t) + "/nobody", Metrics: ingest.NewMetrics(prometheus.NewRegistry())}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if s.StallTimeout != 0 || s.BackoffMin != 0 || s.BackoffMax != 0 || s.Log != nil {
		t.Fatalf("Run wrote defaults into the fields: stall %v backoff %v..%v log %v", s.StallTimeout, s.BackoffMin, s.BackoffMax, s.Log)
	}
}
