package dispatch

import (
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/stations"
)

// Whatever body a client posts, decoding one record does not panic, and
// a problem always names a field under the record's prefix.
func FuzzDecodeWeighing(f *testing.F) {
	f.Add(`{"record_id":"W-1","station":"baiyun-07","time":"2026-12-03T08:15:00+08:00","net_kg":8200}`)
	f.Add(`{"net_kg":"8t","weight":1}`)
	f.Add(`{"record_id":1e999}`)
	f.Add(`{} {}`)
	f.Fuzz(func(t *testing.T, body string) {
		in, probs := decodeWeighing([]byte(body), "records[7].")
		for _, p := range probs {
			if !strings.HasPrefix(p.Field, "records[7]") || p.Error == "" {
				t.Fatalf("problem %+v does not name the record's field", p)
			}
		}
		if probs != nil {
			return
		}
		if w, probs := stations.Check(in, "s", nil, time.Now()); probs == nil && !(w.NetKG > 0) {
			t.Fatalf("accepted %+v", w)
		}
	})
}
