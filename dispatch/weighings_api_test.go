package dispatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/stations"
)

const (
	bridgeToken = "bridge-07-token-0123456789"
	scalesHMAC  = "city-scales-hmac-0123456789"
)

// weighingFixture is a Service on a real SQLite file with two stations
// and two sources (a token limited to baiyun-07, an HMAC source for any
// station), served over loopback; logs are kept to look for secrets.
type weighingFixture struct {
	t   *testing.T
	s   *Service
	url string
	reg *prometheus.Registry
	log lockedWriter
	// bodies are every answer's body, to look for secrets.
	bodies []string
}

func newWeighingFixture(t *testing.T) *weighingFixture {
	t.Helper()
	f := &weighingFixture{t: t, reg: prometheus.NewRegistry(), log: lockedWriter{mu: &sync.Mutex{}, w: &bytes.Buffer{}}}
	cfg, dir := testConfig(""), t.TempDir()
	cfg.Database = testDatabase(t, dir)
	s, err := Open(t.Context(), cfg, dir, f.reg, slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Stations = []config.Station{{ID: "baiyun-07", Name: "白云七站"}, {ID: "baiyun-08"}}
	s.WeighingSources = []config.WeighingSource{
		{ID: "bridge-07", Stations: []string{"baiyun-07"}, Token: bridgeToken},
		{ID: "city-scales", HMACSecret: scalesHMAC},
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	f.s, f.url = s, srv.URL
	return f
}

// post sends body to POST /api/v1/weighings with the headers given.
func (f *weighingFixture) post(body string, header ...string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+"/api/v1/weighings", strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	f.bodies = append(f.bodies, string(raw))
	return resp.StatusCode, string(raw)
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// signed are the headers of body signed by source with secret at ts.
func signed(source, secret string, ts time.Time, body string) []string {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	return []string{HeaderSource, source, HeaderTimestamp, stamp, HeaderSignature, Sign([]byte(secret), stamp, []byte(body))}
}

// record is a good record's JSON with fields replaced or added.
func record(id, station string, extra ...string) string {
	fields := map[string]string{"record_id": strconv.Quote(id), "station": strconv.Quote(station),
		"time": `"2026-12-03T08:15:00+08:00"`, "net_kg": "8200", "gross_kg": "23200", "tare_kg": "15000", "plate": `"粤A12345"`}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(fields, extra[i])
			continue
		}
		fields[extra[i]] = extra[i+1]
	}
	var parts []string
	for _, k := range []string{"record_id", "station", "time", "net_kg", "gross_kg", "tare_kg", "plate", "operator", "weight"} {
		if v, ok := fields[k]; ok {
			parts = append(parts, strconv.Quote(k)+":"+v)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (f *weighingFixture) stored() []stations.Weighing {
	f.t.Helper()
	all, err := f.s.weighings.WeighingsReceivedAfter(f.t.Context(), 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return all
}

func (f *weighingFixture) count(station, result string) float64 {
	return testutil.ToFloat64(f.s.metrics.Weighings.WithLabelValues(station, result))
}

func (f *weighingFixture) assertNoSecrets() {
	f.t.Helper()
	for _, secret := range []string{bridgeToken, scalesHMAC} {
		if strings.Contains(f.log.String(), secret) {
			f.t.Errorf("the log shows a source credential:\n%s", f.log.String())
		}
		for _, b := range f.bodies {
			if strings.Contains(b, secret) {
				f.t.Errorf("an answer shows a source credential: %s", b)
			}
		}
		if mfs, err := f.reg.Gather(); err != nil || strings.Contains(fmt.Sprint(mfs), secret) {
			f.t.Errorf("the metrics show a source credential")
		}
	}
}

func TestWeighingPostsNeedTheSourcesOwnCredential(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		f := newWeighingFixture(t)
		body := record("W-1", "baiyun-07")
		now := time.Now()
		for _, tc := range []struct {
			name   string
			header []string
			want   string // in the answer
		}{
			{"no credential", nil, "no credential"},
			{"wrong token", bearer("bridge-07-token-WRONG-000"), "unknown token"},
			{"another source's secret as a token", bearer(scalesHMAC), "unknown token"},
			{"a reviewer's basic auth", []string{"Authorization", "Basic YWxpY2U6c2VjcmV0"}, "expected Bearer"},
			{"wrong HMAC secret", signed("city-scales", "not-the-secret-0123456789", now, body), "bad signature"},
			{"signature of another body", signed("city-scales", scalesHMAC, now, record("W-2", "baiyun-07")), "bad signature"},
			{"HMAC of an unknown source", signed("nobody", scalesHMAC, now, body), "bad signature"},
			{"token source signing", signed("bridge-07", bridgeToken, now, body), "bad signature"},
			{"stale timestamp (a replay)", signed("city-scales", scalesHMAC, now.Add(-6*time.Minute), body), "X-StreetWatch-Timestamp: missing or more than 5m0s"},
			{"timestamp from the future", signed("city-scales", scalesHMAC, now.Add(6*time.Minute), body), "X-StreetWatch-Timestamp"},
			{"no timestamp", append(signed("city-scales", scalesHMAC, now, body), HeaderTimestamp, ""), "X-StreetWatch-Timestamp: missing"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, answer := f.post(body, tc.header...)
				if code != http.StatusUnauthorized || !strings.Contains(answer, tc.want) {
					t.Errorf("%d %s, want 401 saying %q", code, answer, tc.want)
				}
			})
		}
		if got := f.stored(); len(got) != 0 {
			t.Fatalf("refused posts stored %d records", len(got))
		}
		if n := f.count(unknownStation, stations.ResultUnauthorized); n != 11 {
			t.Errorf("unauthorized count %g, want 11", n)
		}

		// A source may post only for its stations: 403 naming the field.
		code, answer := f.post(record("W-8", "baiyun-08"), bearer(bridgeToken)...)
		if code != http.StatusForbidden || !strings.Contains(answer, `"field":"station"`) || !strings.Contains(answer, "source bridge-07 may not post for station baiyun-08") {
			t.Errorf("another station's record: %d %s, want 403 naming station", code, answer)
		}
		if n := f.count("baiyun-08", stations.ResultUnauthorized); n != 1 {
			t.Errorf("forbidden station count %g, want 1", n)
		}

		// The right credentials store.
		if code, answer := f.post(body, bearer(bridgeToken)...); code != http.StatusCreated {
			t.Errorf("bearer token: %d %s", code, answer)
		}
		other := record("S-1", "baiyun-08")
		if code, answer := f.post(other, signed("city-scales", scalesHMAC, time.Now(), other)...); code != http.StatusCreated {
			t.Errorf("HMAC signature: %d %s", code, answer)
		}
		got := f.stored()
		if len(got) != 2 || got[0].Source != "bridge-07" || got[1].Source != "city-scales" {
			t.Fatalf("stored %+v, want one record from each source", got)
		}
		f.assertNoSecrets()
	})
}

func TestTheSameWeighingTwiceIsStoredOnceAndOtherContentIsAConflict(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		f := newWeighingFixture(t)
		body := record("W-1", "baiyun-07")
		code, first := f.post(body, bearer(bridgeToken)...)
		if code != http.StatusCreated {
			t.Fatalf("first: %d %s", code, first)
		}
		code, again := f.post(body, bearer(bridgeToken)...)
		if code != http.StatusOK || again != first {
			t.Errorf("again: %d %s, want 200 with the stored record %s", code, again, first)
		}
		code, answer := f.post(record("W-1", "baiyun-07", "net_kg", "8300", "gross_kg", "23300"), bearer(bridgeToken)...)
		var e WeighingError
		_ = json.Unmarshal([]byte(answer), &e)
		if code != http.StatusConflict || e.Code != "conflict" || len(e.Problems) != 1 || e.Problems[0].Field != "record_id" || !strings.Contains(e.Error, `"W-1"`) {
			t.Errorf("other content: %d %s, want 409 naming record W-1", code, answer)
		}
		got := f.stored()
		if len(got) != 1 || got[0].NetKG != 8200 {
			t.Fatalf("stored %+v, want the first record only", got)
		}
		for result, want := range map[string]float64{stations.ResultStored: 1, stations.ResultDuplicate: 1, stations.ResultConflict: 1} {
			if n := f.count("baiyun-07", result); n != want {
				t.Errorf("%s count %g, want %g", result, n, want)
			}
		}
	})
}

func TestAWeighingBatchStoresItsGoodRecordsAndNamesEachBadField(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		f := newWeighingFixture(t)
		doc := loadOpenAPI(t)
		batch := "[" + strings.Join([]string{
			record("B-0", "baiyun-07"),
			record("B-1", "baiyun-07", "net_kg", "0", "gross_kg", "", "tare_kg", ""),
			record("B-2", "baiyun-07", "weight", "12"),
			record("B-3", "baiyun-07", "net_kg", `"8t"`),
			record("B-4", "baiyun-99"),
			record("B-5", "baiyun-07", "tare_kg", "14000"),
			record("B-6", "baiyun-07", "time", ""),
			record("B-7", "baiyun-07", "net_kg", "8100", "gross_kg", "", "tare_kg", ""),
		}, ",") + "]"
		code, answer := f.post(batch, bearer(bridgeToken)...)
		if code != http.StatusBadRequest {
			t.Fatalf("%d %s, want 400", code, answer)
		}
		var got WeighingBatch
		if err := json.Unmarshal([]byte(answer), &got); err != nil {
			t.Fatal(err)
		}
		wantBad := map[int]string{
			1: "records[1].net_kg: must be > 0 (got 0)",
			2: "records[2].weight: unknown field",
			3: "records[3].net_kg: expected a number, got a JSON string",
			4: `records[4].station: unknown station "baiyun-99"`,
			5: "records[5].gross_kg: gross_kg − tare_kg = 9200, but net_kg is 8200",
			6: "records[6].time: required",
		}
		for i, r := range got.Results {
			want, bad := wantBad[i]
			switch {
			case r.Index != i:
				t.Errorf("result %d has index %d", i, r.Index)
			case bad && (r.Result != stations.ResultInvalid || len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0].String(), want)):
				t.Errorf("record %d: %s %v, want invalid: %s", i, r.Result, r.Problems, want)
			case !bad && (r.Result != stations.ResultStored || r.Weighing == nil || r.Weighing.RecordID != fmt.Sprintf("B-%d", i)):
				t.Errorf("record %d: %+v, want stored", i, r)
			}
		}
		if got.Stored != 2 || got.Invalid != 6 || len(got.Results) != 8 {
			t.Errorf("counts stored %d invalid %d of %d, want 2 and 6 of 8", got.Stored, got.Invalid, len(got.Results))
		}
		var v any
		_ = json.Unmarshal([]byte(answer), &v)
		for _, p := range matchSchema(doc, &schema{Ref: "#/components/schemas/WeighingBatch"}, v, "batch") {
			t.Error(p)
		}
		if n := len(f.stored()); n != 2 {
			t.Errorf("%d records stored, want the 2 good ones", n)
		}
		if f.count("baiyun-07", stations.ResultInvalid) != 5 || f.count(unknownStation, stations.ResultInvalid) != 1 {
			t.Errorf("invalid counts: baiyun-07 %g, unknown %g; want 5 and 1", f.count("baiyun-07", stations.ResultInvalid), f.count(unknownStation, stations.ResultInvalid))
		}

		// Sending the batch again (a client retrying) stores nothing twice.
		if code, answer := f.post(batch, bearer(bridgeToken)...); code != http.StatusBadRequest || !strings.Contains(answer, `"duplicate":2`) {
			t.Errorf("again: %d %s, want the good records as duplicates", code, answer)
		}
		if n := len(f.stored()); n != 2 {
			t.Errorf("%d records after sending the batch again, want 2", n)
		}
		f.assertNoSecrets()
	})
}

func TestWeighingBodiesAreBounded(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		f := newWeighingFixture(t)
		many := make([]string, MaxWeighingBatch+1)
		for i := range many {
			many[i] = record(fmt.Sprintf("M-%d", i), "baiyun-07")
		}
		for _, tc := range []struct {
			name, body string
			code       int
			want       string
		}{
			{"too many records", "[" + strings.Join(many, ",") + "]", http.StatusRequestEntityTooLarge, "records: at most 500 per request (got 501)"},
			{"too many bytes", `[` + strings.Repeat(" ", maxWeighingBody) + `]`, http.StatusRequestEntityTooLarge, "body: at most"},
			{"empty batch", "[]", http.StatusBadRequest, "records: empty batch"},
			{"not JSON", "record_id=1", http.StatusBadRequest, "body: expected a JSON object"},
			{"broken JSON", `[` + record("X", "baiyun-07"), http.StatusBadRequest, "body: "},
			{"two objects", record("X", "baiyun-07") + record("Y", "baiyun-07"), http.StatusBadRequest, "body: one JSON object expected"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if code, answer := f.post(tc.body, bearer(bridgeToken)...); code != tc.code || !strings.Contains(answer, tc.want) {
					t.Errorf("%d %.200s, want %d saying %q", code, answer, tc.code, tc.want)
				}
			})
		}
		if n := len(f.stored()); n != 0 {
			t.Errorf("%d records stored from refused bodies", n)
		}
	})
}

func TestWeighingsAreListedPerStationAndTimeRange(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		f := newWeighingFixture(t)
		batch := "[" + record("L-1", "baiyun-07", "time", `"2026-12-03T08:00:00+08:00"`) + "," +
			record("L-2", "baiyun-07", "time", `"2026-12-03T23:59:59+08:00"`) + "," +
			record("L-3", "baiyun-07", "time", `"2026-12-04T00:00:00+08:00"`) + "]"
		if code, answer := f.post(batch, bearer(bridgeToken)...); code != http.StatusCreated {
			t.Fatalf("%d %s", code, answer)
		}
		a := newAPI(t, f.s)
		var list WeighingList
		code, body := a.do("GET", "/api/v1/weighings?station=baiyun-07&from=2026-12-03T00:00:00%2B08:00&to=2026-12-04T00:00:00%2B08:00", nil, &list)
		if code != http.StatusOK || len(list.Weighings) != 2 || list.Weighings[0].RecordID != "L-1" || list.Weighings[1].RecordID != "L-2" || list.Truncated {
			t.Fatalf("one day: %d %s", code, body)
		}
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		for _, p := range matchSchema(loadOpenAPI(t), &schema{Ref: "#/components/schemas/WeighingList"}, v, "list") {
			t.Error(p)
		}
		if code, body := a.do("GET", "/api/v1/weighings?station=baiyun-07&from=2026-12-03T00:00:00Z&to=2026-12-05T00:00:00Z&limit=2", nil, &list); code != http.StatusOK || len(list.Weighings) != 2 || !list.Truncated {
			t.Errorf("limit 2 of 3: %d %s", code, body)
		}
		for q, want := range map[string]string{
			"from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z":                           "station: required",
			"station=baiyun-07&to=2026-12-04T00:00:00Z":                                   "from: required",
			"station=baiyun-07&from=2026-12-04T00:00:00Z&to=2026-12-03T00:00:00Z":         "to: must be after from",
			"station=baiyun-07&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z&limit=0": "limit: must be between 1 and 5000",
			"station=baiyun-07&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z&plate=x": `unknown query parameter \"plate\"`,
		} {
			if code, body := a.do("GET", "/api/v1/weighings?"+q, nil, nil); code != http.StatusBadRequest || !strings.Contains(body, want) {
				t.Errorf("%s: %d %s, want 400 saying %q", q, code, body, want)
			}
		}
	})
}
