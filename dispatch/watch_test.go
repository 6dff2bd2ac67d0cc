package dispatch

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Heartbeats without a gap make one watched span per camera; a silence
// longer than MaxWatchGap, and a restart of StreetWatch however short,
// leave a gap that is not watched, so a span across it is not covered.
// Every camera asked about must have watched.
func TestCamerasWatchInSpansOfHeartbeatsAndARestartIsAGap(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		dir := t.TempDir()
		ctx := t.Context()
		t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
		at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
		s := testService(t, testConfig(""), dir, prometheus.NewRegistry())
		beat := func(s *Service, camera string, from, to int) {
			t.Helper()
			for x := from; x <= to; x += int(WatchBeat / time.Second) {
				if err := s.Watching(ctx, camera, at(x)); err != nil {
					t.Fatal(err)
				}
			}
		}
		beat(s, "cam-a", 0, 300)   // 0..300 s
		beat(s, "cam-a", 330, 600) // 30 s silent: a new span
		beat(s, "cam-b", 0, 600)
		s.Close()

		s = testService(t, testConfig(""), dir, prometheus.NewRegistry()) // restarted 5 s later
		beat(s, "cam-a", 605, 900)
		beat(s, "cam-b", 605, 900)

		for _, tc := range []struct {
			name     string
			cameras  []string
			from, to int
			want     bool
		}{
			{"inside the first span", []string{"cam-a"}, 10, 290, true},
			{"a span's own ends", []string{"cam-a"}, 0, 300, true},
			{"across the silence", []string{"cam-a"}, 290, 340, false},
			{"inside the second span", []string{"cam-a"}, 330, 600, true},
			{"across the restart", []string{"cam-b"}, 590, 610, false},
			{"after the restart", []string{"cam-b"}, 605, 895, true},
			{"past the last beat", []string{"cam-b"}, 800, 905, false},
			{"before the first beat", []string{"cam-b"}, -1, 10, false},
			{"both cameras, one silent", []string{"cam-a", "cam-b"}, 290, 340, false},
			{"both cameras watched", []string{"cam-a", "cam-b"}, 400, 500, true},
			{"a camera never seen", []string{"cam-a", "cam-c"}, 400, 500, false},
			{"no cameras", nil, 400, 500, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Watched(ctx, tc.cameras, at(tc.from), at(tc.to))
				if err != nil || got != tc.want {
					t.Errorf("Watched(%v, %d s, %d s) = %v, %v; want %v", tc.cameras, tc.from, tc.to, got, err, tc.want)
				}
			})
		}
	})
}
