package stations

import (
	"strings"
	"testing"
	"time"
)

func kg(v float64) *float64 { return &v }

var shanghai = time.FixedZone("CST", 8*3600)

func TestCheckAcceptsAGoodRecordAndNamesEachBadField(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	good := Input{RecordID: "W-0001", Station: "baiyun-07", Time: "2026-12-03T08:15:00+08:00",
		NetKG: kg(8200), GrossKG: kg(23200), TareKG: kg(15000), Plate: " 粤A12345 ", Operator: "王芳"}
	w, probs := Check(good, "bridge-07", nil, now)
	if probs != nil {
		t.Fatalf("good record: %v", probs)
	}
	want := Weighing{Source: "bridge-07", RecordID: "W-0001", Station: "baiyun-07", Time: time.Date(2026, 12, 3, 0, 15, 0, 0, time.UTC),
		NetKG: 8200, GrossKG: kg(23200), TareKG: kg(15000), Plate: "粤A12345", Operator: "王芳"}
	if !w.SameContent(want) || w.Time.Location() != time.UTC {
		t.Fatalf("record %+v, want %+v", w, want)
	}

	with := func(f func(*Input)) Input {
		in := good
		f(&in)
		return in
	}
	for _, tc := range []struct {
		name  string
		in    Input
		local *time.Location
		want  string // "": accepted
	}{
		{"no record id", with(func(in *Input) { in.RecordID = "" }), nil, "record_id: required"},
		{"record id with a newline", with(func(in *Input) { in.RecordID = "a\nb" }), nil, "record_id: must be 1-128 bytes"},
		{"record id too long", with(func(in *Input) { in.RecordID = strings.Repeat("x", 129) }), nil, "record_id: must be 1-128 bytes"},
		{"no station", with(func(in *Input) { in.Station = "" }), nil, "station: required"},
		{"no time", with(func(in *Input) { in.Time = "" }), nil, "time: required"},
		{"local time over the API", with(func(in *Input) { in.Time = "2026-12-03 08:15:00" }), nil, `time: expected an RFC 3339 time`},
		{"local time in an import", with(func(in *Input) { in.Time = "2026-12-03 08:15:00" }), shanghai, ""},
		{"garbage time in an import", with(func(in *Input) { in.Time = "03/12/2026" }), shanghai, `time: expected RFC 3339 (2026-01-02T15:04:05+08:00) or "2006-01-02 15:04:05" in CST`},
		{"time in the future", with(func(in *Input) { in.Time = "2026-12-03T14:00:01Z" }), nil, "time: more than 1h0m0s in the future"},
		{"clock reset", with(func(in *Input) { in.Time = "1970-01-01T00:00:00Z" }), nil, "time: before 2000-01-01"},
		{"no net", with(func(in *Input) { in.NetKG = nil; in.GrossKG, in.TareKG = nil, nil }), nil, "net_kg: required"},
		{"zero net", with(func(in *Input) { in.NetKG = kg(0); in.GrossKG, in.TareKG = nil, nil }), nil, "net_kg: must be > 0 (got 0)"},
		{"negative net", with(func(in *Input) { in.NetKG = kg(-5); in.GrossKG, in.TareKG = nil, nil }), nil, "net_kg: must be > 0 (got -5)"},
		{"net over the bound", with(func(in *Input) { in.NetKG = kg(100001); in.GrossKG, in.TareKG = nil, nil }), nil, "net_kg: must be at most 100000"},
		{"gross and tare disagree with net", with(func(in *Input) { in.TareKG = kg(14998) }), nil, "gross_kg: gross_kg − tare_kg = 8202, but net_kg is 8200"},
		{"within a kilogram", with(func(in *Input) { in.TareKG = kg(14999) }), nil, ""},
		{"gross alone", with(func(in *Input) { in.TareKG = nil }), nil, ""},
		{"negative tare", with(func(in *Input) { in.TareKG = kg(-1) }), nil, "tare_kg: must be between 0 and 100000 (got -1)"},
		{"plate too long", with(func(in *Input) { in.Plate = strings.Repeat("粤", 65) }), nil, "plate: must be at most 64 characters"},
		{"operator with a control character", with(func(in *Input) { in.Operator = "a\x00" }), nil, "operator: must be at most 64 characters of printable text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Check(tc.in, "bridge-07", tc.local, now)
			var got []string
			for _, p := range probs {
				got = append(got, p.String())
			}
			switch all := strings.Join(got, "; "); {
			case tc.want == "" && all != "":
				t.Fatalf("refused: %s", all)
			case tc.want != "" && !strings.Contains(all, tc.want):
				t.Fatalf("problems %q, want %q", all, tc.want)
			}
		})
	}
}

func TestCheckReportsEveryBadFieldAtOnce(t *testing.T) {
	_, probs := Check(Input{Time: "soon", NetKG: kg(-1)}, "s", nil, time.Now())
	var fields []string
	for _, p := range probs {
		fields = append(fields, p.Field)
	}
	if got := strings.Join(fields, ","); got != "record_id,station,time,net_kg" {
		t.Fatalf("fields %s, want record_id,station,time,net_kg", got)
	}
}

func TestSameContentIgnoresArrivalAndTimeZoneButNotAWeight(t *testing.T) {
	a := Weighing{Source: "s", RecordID: "1", Station: "st", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), NetKG: 10, GrossKG: kg(20)}
	b := a
	b.Time, b.ReceivedAt, b.Seq, b.GrossKG = a.Time.In(shanghai), time.Now(), 9, kg(20)
	if !a.SameContent(b) {
		t.Error("the same record received again is not the same content")
	}
	b.GrossKG = nil
	if a.SameContent(b) {
		t.Error("a record without its gross weight is the same content")
	}
	b.GrossKG, b.NetKG = kg(20), 11
	if a.SameContent(b) {
		t.Error("another net weight is the same content")
	}
}

func TestReadCSVReadsRowsInAnyColumnOrderAndKeepsBadRowsWithTheirLine(t *testing.T) {
	const file = "\ufeffTime,record_id,net_kg,plate\n" +
		"2026-12-03 08:15:00,W-1,8200,粤A12345\n" +
		"2026-12-03 08:40:00,W-2,eight tons,\n" +
		"\"2026-12-03 09:00:00\",W-3\n" +
		"2026-12-03 09:30:00, W-4 ,7100.5,\n"
	rows, err := ReadCSV(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4: %+v", len(rows), rows)
	}
	if r := rows[0]; r.Line != 2 || r.Input.RecordID != "W-1" || r.Input.Time != "2026-12-03 08:15:00" || *r.Input.NetKG != 8200 || r.Input.Plate != "粤A12345" || r.Problems != nil {
		t.Errorf("row 1: %+v", r)
	}
	if r := rows[1]; r.Line != 3 || len(r.Problems) != 1 || r.Problems[0].String() != `net_kg: expected a number of kilograms (got "eight tons")` {
		t.Errorf("row 2: %+v", r)
	}
	if r := rows[2]; r.Line != 4 || len(r.Problems) != 1 || r.Problems[0].String() != "csv: 2 cells, the header has 4" {
		t.Errorf("row 3: %+v", r)
	}
	if r := rows[3]; r.Line != 5 || r.Input.RecordID != "W-4" || *r.Input.NetKG != 7100.5 || r.Problems != nil {
		t.Errorf("row 4: %+v", r)
	}
}

func TestReadCSVRefusesABadHeader(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"", "line 1: empty file: a header row is required"},
		{"record_id,time,weight\n", `line 1: unknown column "weight"`},
		{"record_id,time\n", "line 1: column net_kg is required"},
		{"record_id,time,net_kg,time\n", `line 1: column "time" twice`},
	} {
		if _, err := ReadCSV(strings.NewReader(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.file, err, tc.want)
		}
	}
}
