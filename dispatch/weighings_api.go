package dispatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/internal/signature"
	"github.com/streetwatch/streetwatch/stations"
)

// HeaderSource names the weighing source of an HMAC-signed post (a bearer
// token names its source itself).
const HeaderSource = "X-StreetWatch-Source"

// Limits of POST /api/v1/weighings.
const (
	MaxWeighingBatch    = 500
	maxWeighingBody     = 1 << 20
	defaultWeighingList = 1000
	maxWeighingList     = 5000
)

// unknownStation is the station label of counts that cannot name a
// configured station, so the label set stays the configured stations.
const unknownStation = config.UnknownStation

// WeighingResult is what became of one record of a batch.
type WeighingResult struct {
	Index    int    `json:"index"`
	RecordID string `json:"record_id,omitempty"`
	// Result is stored, duplicate, conflict, invalid or unauthorized.
	Result string `json:"result"`
	// Weighing is the record as stored (stored and duplicate).
	Weighing *stations.Weighing `json:"weighing,omitempty"`
	// Problems name the fields at fault (invalid, unauthorized, conflict).
	Problems []stations.Problem `json:"problems,omitempty"`
}

// WeighingBatch answers a batch: counts, and each record's result in the
// order sent.
type WeighingBatch struct {
	Stored       int              `json:"stored"`
	Duplicate    int              `json:"duplicate"`
	Conflict     int              `json:"conflict"`
	Invalid      int              `json:"invalid"`
	Unauthorized int              `json:"unauthorized"`
	Results      []WeighingResult `json:"results"`
}

// WeighingError answers a single record that was not stored.
type WeighingError struct {
	Error    string             `json:"error"`
	Code     string             `json:"code"`
	Problems []stations.Problem `json:"problems,omitempty"`
}

// WeighingList is a station's records over a time range.
type WeighingList struct {
	Weighings []stations.Weighing `json:"weighings"`
	// Truncated: there are more; ask for a shorter range.
	Truncated bool `json:"truncated"`
}

// apiPostWeighings stores weighing records from a weighing source. It is
// machine to machine: the review gate lets it through without a session,
// and the source's credential is checked here, before the body is read as
// records.
func (s *Service) apiPostWeighings(w http.ResponseWriter, r *http.Request) {
	if s.weighings == nil {
		apiError(w, http.StatusServiceUnavailable, "unavailable", "this ticket store keeps no weighing records")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWeighingBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body: at most %d bytes (send fewer records per request)", maxWeighingBody))
			return
		}
		apiError(w, http.StatusBadRequest, "bad_request", "body: could not be read")
		return
	}
	src, why := s.weighingSource(r, body)
	if why != "" {
		s.metrics.Weighings.WithLabelValues(unknownStation, stations.ResultUnauthorized).Inc()
		s.log.Warn("weighing post refused", "remote", r.RemoteAddr, "source", clipHeader(r.Header.Get(HeaderSource)), "reason", why)
		w.Header().Set("WWW-Authenticate", `Bearer realm="streetwatch-weighings"`)
		apiError(w, http.StatusUnauthorized, "unauthorized", why)
		return
	}
	// A batch the client gave up on is still stored whole: it will be
	// sent again, and the records stored now are then duplicates.
	ctx := context.WithoutCancel(r.Context())
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		s.postOneWeighing(ctx, w, src, body)
	case len(trimmed) > 0 && trimmed[0] == '[':
		s.postWeighingBatch(ctx, w, src, body)
	default:
		apiError(w, http.StatusBadRequest, "bad_request", "body: expected a JSON object (one record) or an array of them")
	}
}

// weighingSource finds the configured source whose credential the request
// carries; why says what is wrong otherwise (never a credential).
func (s *Service) weighingSource(r *http.Request, body []byte) (src config.WeighingSource, why string) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, token, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return src, "Authorization: expected Bearer <token>, or the signature headers"
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		found := -1
		for i, c := range s.WeighingSources { // every one, in constant time each
			want := sha256.Sum256([]byte(c.Token))
			if c.Token != "" && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
				found = i
			}
		}
		if found < 0 {
			return src, "unknown token"
		}
		return s.WeighingSources[found], ""
	}
	if r.Header.Get(HeaderSignature) == "" {
		return src, "no credential: send Authorization: Bearer <token>, or " + HeaderSource + ", " + HeaderTimestamp + " and " + HeaderSignature
	}
	id := r.Header.Get(HeaderSource)
	for _, c := range s.WeighingSources {
		if c.ID != id || c.HMACSecret == "" {
			continue
		}
		switch err := signature.Verify([]byte(c.HMACSecret), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, s.now()); {
		case errors.Is(err, signature.ErrStale) || errors.Is(err, signature.ErrMissing):
			return src, HeaderTimestamp + ": missing or more than " + signature.Tolerance.String() + " from the server's clock"
		case err != nil:
			return src, "unknown source or bad signature"
		}
		return c, ""
	}
	return src, "unknown source or bad signature"
}

// posted is one record of a post as decoded, with what decoding found
// wrong with it.
type posted struct {
	in    stations.Input
	probs []stations.Problem
}

// storeWeighings checks the records src posted and stores the good ones
// in one transaction; it counts every record and returns one result each,
// in order. An error is the store's: then nothing was stored or counted.
func (s *Service) storeWeighings(ctx context.Context, src config.WeighingSource, recs []posted, received time.Time) ([]WeighingResult, error) {
	results := make([]WeighingResult, len(recs))
	labels := make([]string, len(recs))
	var good []stations.Weighing
	var at []int
	for i, p := range recs {
		rec, res, label := s.checkWeighing(src, p, received)
		results[i], labels[i] = res, label
		if res.Result == "" {
			good, at = append(good, rec), append(at, i)
		}
	}
	if len(good) > 0 {
		puts, err := s.weighings.PutWeighings(ctx, good)
		if err != nil {
			return nil, err
		}
		for j, put := range puts {
			res := &results[at[j]]
			res.Result = put.Result
			if put.Result == stations.ResultConflict {
				res.Problems = []stations.Problem{{Field: "record_id", Error: fmt.Sprintf("%q is already stored for source %s with other content (weighed %s, net %g kg); a record is never changed",
					res.RecordID, src.ID, put.Weighing.Time.Format(time.RFC3339), put.Weighing.NetKG)}}
				continue
			}
			w := put.Weighing
			res.Weighing = &w
			if put.Result == stations.ResultStored && s.OnWeighing != nil {
				s.OnWeighing(w)
			}
		}
	}
	for i, res := range results {
		s.metrics.Weighings.WithLabelValues(labels[i], res.Result).Inc()
	}
	return results, nil
}

// checkWeighing checks one record of src: a result of invalid or
// unauthorized with the problems, or rec to store (and no result yet).
// label is the record's station label for the metrics.
func (s *Service) checkWeighing(src config.WeighingSource, p posted, received time.Time) (rec stations.Weighing, res WeighingResult, label string) {
	res.RecordID, label = p.in.RecordID, unknownStation
	if _, ok := s.station(p.in.Station); ok {
		label = p.in.Station
	}
	if len(p.probs) > 0 {
		res.Result, res.Problems = stations.ResultInvalid, p.probs
		return rec, res, label
	}
	rec, probs := stations.Check(p.in, src.ID, nil, received)
	if p.in.Station != "" && label == unknownStation {
		probs = append(probs, stations.Problem{Field: "station", Error: fmt.Sprintf("unknown station %q", clipHeader(p.in.Station))})
	}
	if len(probs) > 0 {
		res.Result, res.Problems = stations.ResultInvalid, probs
		return rec, res, label
	}
	if !src.MayPost(rec.Station) {
		res.Result = stations.ResultUnauthorized
		res.Problems = []stations.Problem{{Field: "station", Error: fmt.Sprintf("source %s may not post for station %s", src.ID, rec.Station)}}
		return rec, res, label
	}
	rec.ReceivedAt = received
	return rec, res, label
}

func (s *Service) postOneWeighing(ctx context.Context, w http.ResponseWriter, src config.WeighingSource, body []byte) {
	in, probs := decodeWeighing(body, "")
	results, err := s.storeWeighings(ctx, src, []posted{{in, probs}}, s.now())
	if err != nil {
		s.internalError(w, err)
		return
	}
	res := results[0]
	s.log.Info("weighing received", "source", src.ID, "station", res.stationOr(in.Station), "record", clipHeader(res.RecordID), "result", res.Result)
	switch res.Result {
	case stations.ResultStored:
		writeJSON(w, http.StatusCreated, res.Weighing)
	case stations.ResultDuplicate:
		writeJSON(w, http.StatusOK, res.Weighing)
	default:
		status := map[string]int{stations.ResultInvalid: http.StatusBadRequest, stations.ResultUnauthorized: http.StatusForbidden,
			stations.ResultConflict: http.StatusConflict}[res.Result]
		writeJSON(w, status, WeighingError{Error: joinProblems(res.Problems), Code: res.Result, Problems: res.Problems})
	}
}

// postWeighingBatch stores the good records of a batch (in one
// transaction) and reports each bad one; a batch is not all or nothing,
// and sending it again is safe.
func (s *Service) postWeighingBatch(ctx context.Context, w http.ResponseWriter, src config.WeighingSource, body []byte) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	switch {
	case len(raw) == 0:
		apiError(w, http.StatusBadRequest, "bad_request", "records: empty batch")
		return
	case len(raw) > MaxWeighingBatch:
		apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("records: at most %d per request (got %d)", MaxWeighingBatch, len(raw)))
		return
	}
	recs := make([]posted, len(raw))
	for i, item := range raw {
		recs[i].in, recs[i].probs = decodeWeighing(item, fmt.Sprintf("records[%d].", i))
	}
	results, err := s.storeWeighings(ctx, src, recs, s.now())
	if err != nil {
		s.internalError(w, err) // nothing of the batch is stored: it can be sent again
		return
	}
	out := WeighingBatch{Results: results}
	for i := range results {
		res := &results[i]
		res.Index = i
		prefix := fmt.Sprintf("records[%d].", i)
		for j := range res.Problems {
			if !strings.HasPrefix(res.Problems[j].Field, prefix) {
				res.Problems[j].Field = prefix + res.Problems[j].Field
			}
		}
		switch res.Result {
		case stations.ResultStored:
			out.Stored++
		case stations.ResultDuplicate:
			out.Duplicate++
		case stations.ResultConflict:
			out.Conflict++
		case stations.ResultInvalid:
			out.Invalid++
		case stations.ResultUnauthorized:
			out.Unauthorized++
		}
	}
	s.log.Info("weighings received", "source", src.ID, "records", len(raw), "stored", out.Stored, "duplicate", out.Duplicate,
		"conflict", out.Conflict, "invalid", out.Invalid, "unauthorized", out.Unauthorized)
	status := http.StatusOK
	switch {
	case out.Invalid > 0:
		status = http.StatusBadRequest
	case out.Unauthorized > 0:
		status = http.StatusForbidden
	case out.Conflict > 0:
		status = http.StatusConflict
	case out.Stored > 0:
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

// decodeWeighing reads one record strictly; a problem names the field
// (prefix + name) when the JSON says which.
func decodeWeighing(raw []byte, prefix string) (stations.Input, []stations.Problem) {
	var in stations.Input
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("one JSON object expected")
		}
	}
	if err == nil {
		return in, nil
	}
	field, msg := strings.TrimSuffix(prefix, "."), err.Error()
	if field == "" {
		field = "body"
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		field, msg = prefix+te.Field, "expected a "+jsonKind(te.Type.String())+", got a JSON "+te.Value
	} else if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field, msg = prefix+strings.Trim(name, `"`), "unknown field"
	}
	return in, []stations.Problem{{Field: field, Error: msg}}
}

func jsonKind(goType string) string {
	if strings.Contains(goType, "float") {
		return "number"
	}
	return "string"
}

func joinProblems(ps []stations.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

func (r WeighingResult) stationOr(station string) string {
	if r.Weighing != nil {
		return r.Weighing.Station
	}
	return clipHeader(station)
}

// station returns the configured station with id.
func (s *Service) station(id string) (config.Station, bool) {
	for _, st := range s.Stations {
		if st.ID == id {
			return st, true
		}
	}
	return config.Station{}, false
}

var weighingListParams = map[string]bool{"station": true, "from": true, "to": true, "limit": true}

// apiListWeighings lists a station's records over [from, to) for people
// (the review gate requires a signed-in user).
func (s *Service) apiListWeighings(w http.ResponseWriter, r *http.Request) {
	if s.weighings == nil {
		apiError(w, http.StatusServiceUnavailable, "unavailable", "this ticket store keeps no weighing records")
		return
	}
	q := r.URL.Query()
	for k := range q {
		if !weighingListParams[k] {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown query parameter %q", k))
			return
		}
	}
	station := q.Get("station")
	if station == "" {
		apiError(w, http.StatusBadRequest, "bad_request", "station: required")
		return
	}
	var from, to time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		t, err := time.Parse(time.RFC3339, q.Get(p.name))
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: required, an RFC 3339 time such as 2026-01-02T15:04:05+08:00", p.name))
			return
		}
		*p.dst = t
	}
	if !to.After(from) {
		apiError(w, http.StatusBadRequest, "bad_request", "to: must be after from")
		return
	}
	limit := defaultWeighingList
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWeighingList {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit: must be between 1 and %d", maxWeighingList))
			return
		}
		limit = n
	}
	list, err := s.weighings.WeighingsBetween(r.Context(), station, from, to, limit+1)
	if err != nil {
		s.internalError(w, err)
		return
	}
	out := WeighingList{Weighings: list}
	if len(list) > limit {
		out.Weighings, out.Truncated = list[:limit], true
	}
	writeJSON(w, http.StatusOK, out)
}

// clipHeader makes a client-sent value safe and short for logs and
// messages.
func clipHeader(v string) string {
	if len(v) > 64 {
		v = v[:64]
	}
	return printable([]byte(v))
}
