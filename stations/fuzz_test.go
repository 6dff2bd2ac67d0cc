package stations

import (
	"strings"
	"testing"
	"time"
)

// Whatever a weighbridge's export holds, ReadCSV does not panic, and each
// row either reads or says which field or the csv is at fault; every row
// Check accepts keeps the limits.
func FuzzReadCSVAndCheck(f *testing.F) {
	f.Add("record_id,time,net_kg\nW-1,2026-12-03 08:15:00,8200\n")
	f.Add("time,record_id,net_kg,gross_kg,tare_kg,plate,operator\n2026-12-03T08:15:00+08:00,W-2,1,2,1,粤A,王\n")
	f.Add("record_id,time,net_kg\n\"W\"\"3\",x,NaN\nW-4\n")
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, file string) {
		rows, err := ReadCSV(strings.NewReader(file))
		if err != nil {
			return
		}
		for _, row := range rows {
			for _, p := range row.Problems {
				if p.Field == "" || p.Error == "" {
					t.Fatalf("line %d: a problem without a field or message: %+v", row.Line, p)
				}
			}
			row.Input.Station = "baiyun-07"
			w, probs := Check(row.Input, "import", time.UTC, now)
			if probs != nil {
				continue
			}
			if !(w.NetKG > 0 && w.NetKG <= MaxKG) || w.RecordID == "" || w.Time.IsZero() || w.Time.After(now.Add(FutureSkew)) {
				t.Fatalf("accepted %+v", w)
			}
			if w.GrossKG != nil && w.TareKG != nil && (*w.GrossKG-*w.TareKG-w.NetKG > NetTolerance || w.NetKG-(*w.GrossKG-*w.TareKG) > NetTolerance) {
				t.Fatalf("accepted gross − tare ≠ net: %+v", w)
			}
		}
	})
}
