package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocv.io/x/gocv"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/confirm/track"
	"github.com/streetwatch/streetwatch/confirm/visits"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/geom"
	"github.com/streetwatch/streetwatch/internal/ulid"
	"github.com/streetwatch/streetwatch/media/frame"
	"github.com/streetwatch/streetwatch/stations"
	"github.com/streetwatch/streetwatch/violation"
)

// bayZone names a station camera's bay in its visits' evidence.
const bayZone = "bay"

// VisitEvent is a finished station visit with the vehicle's best
// picture. The receiver owns BestFrame and must Close it.
type VisitEvent struct {
	stations.Visit
	TrackID   uint64
	Best      track.Sample
	BestFrame gocv.Mat
}

// Close frees the event's picture.
func (e *VisitEvent) Close() {
	if e.BestFrame.Ptr() != nil {
		e.BestFrame.Close()
	}
}

// stationWatch is a station camera's part of its confirmer: the visit
// rule and the best picture of each open visit.
type stationWatch struct {
	station string
	rule    *visits.Rule
	best    map[uint64]keptFrame // by visit Seq
	// beat is the time of the last frame that said the camera watched
	// (dispatch.Service.Watching).
	beat time.Time
}

// beatDue reports whether the frame at t should record that the camera
// is watching: the first frame, then one every dispatch.WatchBeat.
func (w *stationWatch) beatDue(t time.Time) bool {
	if !w.beat.IsZero() && t.Sub(w.beat) < dispatch.WatchBeat && !t.Before(w.beat) {
		return false
	}
	w.beat = t
	return true
}

// watching records that a station camera is up and decoding: a record
// with no visit is only suspect while its station's cameras watched.
func (p *Pipeline) watching(c *confirmer, t time.Time) {
	if p.tickets == nil || !c.station.beatDue(t) {
		return
	}
	if err := p.tickets.Watching(context.Background(), c.camera, t); err != nil {
		p.log.Error("station camera watch not recorded", "camera", c.camera, "err", err)
	}
}

func newStationWatch(sc *config.StationCamera) *stationWatch {
	return &stationWatch{station: sc.ID, best: map[uint64]keptFrame{}, rule: visits.New(visits.Config{
		Bay: polygon(sc.Bay), Entrance: polygon(sc.Entrance), MinStop: sc.MinStop.D(), LeaveAfter: sc.LeaveAfter.D(),
		Classes: sc.VehicleClasses})}
}

// updateVisits feeds the station camera's live tracks to its visit rule,
// keeps the pictures of open visits, and returns the visits that ended.
func (c *confirmer) updateVisits(f *frame.Frame, live []*track.Track) []VisitEvent {
	w := c.station
	tracks := make([]visits.Track, 0, len(live))
	for _, t := range live {
		tracks = append(tracks, visits.Track{ID: t.ID, Class: t.Class(), Box: t.Box, Score: t.Score, FirstSeen: t.FirstSeen, Seen: !t.Missed})
	}
	done := w.rule.Update(f.Time, f.Width(), f.Height(), tracks)
	open := map[uint64]bool{}
	for _, v := range w.rule.Open() {
		open[v.Seq] = true
		if !v.Best.Time.IsZero() && v.Best.Time.Equal(f.Time) {
			c.keepCopy(w.best, v.Seq, f, track.Sample(v.Best)) // a visit may outlast the history
		}
	}
	var out []VisitEvent
	for _, v := range done {
		ev := VisitEvent{TrackID: v.TrackID, Best: track.Sample(v.Best), Visit: stations.Visit{
			ID: ulid.New(v.Departure), Station: w.station, Camera: c.camera, Arrival: v.Arrival, Stop: v.Stop,
			Departure: v.Departure, VehicleClass: v.Class, Score: v.Best.Score}}
		if k, ok := w.best[v.Seq]; ok {
			ev.BestFrame = c.picture(k)
			delete(w.best, v.Seq)
		}
		c.log.Info("station visit", "camera", c.camera, "station", w.station, "id", ev.ID, "class", v.Class, "track", v.TrackID,
			"arrival", v.Arrival, "stop", v.Stop, "departure", v.Departure)
		out = append(out, ev)
	}
	for seq := range w.best {
		if !open[seq] {
			delete(w.best, seq)
		}
	}
	return out
}

func (w *stationWatch) close() { clear(w.best) }

// polygon is a config polygon as geometry.
func polygon(p config.Polygon) geom.Polygon {
	if len(p) == 0 {
		return nil
	}
	out := make(geom.Polygon, len(p))
	for i, pt := range p {
		out[i] = geom.Point{X: pt[0], Y: pt[1]}
	}
	return out
}

// newVisitsCounter counts visits per station, every configured station
// from zero (a station whose camera sees no visit is then a flat line an
// alert can see, not a missing series).
func newVisitsCounter(reg prometheus.Registerer, sts []config.Station) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streetwatch_station_visits_total",
		Help: "Vehicle visits to a garbage station's unloading bay seen by its cameras.",
	}, []string{"station"})
	for _, st := range sts {
		c.WithLabelValues(st.ID)
	}
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// onVisit stores a finished visit and records its evidence. The evidence
// goes first: once Record returns the visit is on disk (pending), and its
// hand-off stores it in the database even if storing it here fails.
func (p *Pipeline) onVisit(ev VisitEvent, width, height int) {
	p.visitsSeen.WithLabelValues(ev.Station).Inc()
	if p.OnVisit != nil {
		p.OnVisit(ev)
	}
	v := ev.Visit
	v.EvidenceStatus = stations.EvidencePending
	if err := p.evidence.recorder.Record(p.evidence.visitEvent(ev, width, height)); err != nil {
		p.log.Error("station visit evidence could not be saved", "camera", v.Camera, "visit", v.ID, "err", err)
		v.EvidenceStatus = stations.EvidenceFailed
	}
	v.CreatedAt = time.Now().UTC()
	if _, _, err := p.tickets.Visits().PutVisit(context.Background(), v); err != nil {
		p.log.Error("station visit not stored", "camera", v.Camera, "visit", v.ID, "err", err)
	}
}

// visitStored is the hand-off of a visit's spooled evidence: the visit
// (again, idempotently: after a crash it may not be stored yet) and
// where its bundle is.
func (p *Pipeline) visitStored(st evidence.Stored) error {
	v, err := visitOf(st)
	if err != nil {
		return err
	}
	ctx := context.Background()
	store := p.tickets.Visits()
	v.CreatedAt = time.Now().UTC()
	if _, _, err := store.PutVisit(ctx, v); err != nil {
		return err
	}
	return store.SetVisitEvidence(ctx, v.ID, stations.VisitEvidence{Prefix: st.Prefix, Status: stations.EvidenceStored,
		Files: evidenceFiles(st.Manifest), ManifestSHA256: st.ManifestSHA256})
}

// Keys of a visit's manifest "extra".
const (
	extraStation = "station"
	extraStop    = "stop"
)

// visitEvent is the evidence recorder's form of a visit: arrival is its
// first_seen, departure its confirmed_at, the bay its zone; the station
// and the stop go into the manifest's extra.
func (s *evidenceStage) visitEvent(ev VisitEvent, width, height int) *evidence.Event {
	cam := s.camera(ev.Camera)
	v := ev.Visit
	rec := violation.Record{ID: v.ID, Type: violation.StationVisit, Camera: v.Camera, Zone: bayZone, TrackID: ev.TrackID,
		Class: v.VehicleClass, FirstSeen: v.Arrival, ConfirmedAt: v.Departure, Confidence: v.Score, Box: ev.Best.Box,
		Signals: []string{"model"}}
	return &evidence.Event{
		Violation: evidence.ViolationRecord{Record: rec, BestAt: ev.Best.Time},
		Camera:    cameraRecord(cam),
		Models:    s.models,
		Zone:      pixels(cam.Station.Bay, width, height),
		TimeZone:  zoneTimezone(cam, ""),
		BestFrame: ev.BestFrame,
		Recycle:   s.pictures.Recycle,
		BestMarks: []evidence.Mark{{Rect: ev.Best.Box.Rect(), Label: fmt.Sprintf("%s %.2f", v.VehicleClass, ev.Best.Score), Color: evidence.ColorObject}},
		Extra:     map[string]any{extraStation: v.Station, extraStop: v.Stop.UTC().Format(time.RFC3339Nano)},
	}
}

// visitOf reads a visit back from its stored evidence.
func visitOf(st evidence.Stored) (stations.Visit, error) {
	r := st.Violation.Record
	v := stations.Visit{ID: r.ID, Camera: st.Camera.ID, Arrival: r.FirstSeen, Departure: r.ConfirmedAt,
		VehicleClass: r.Class, Score: r.Confidence, EvidenceStatus: stations.EvidencePending}
	var extra map[string]any
	if st.Manifest != nil {
		extra = st.Manifest.Extra
	}
	station, _ := extra[extraStation].(string)
	stop, _ := extra[extraStop].(string)
	at, err := time.Parse(time.RFC3339Nano, stop)
	if station == "" || err != nil {
		return v, fmt.Errorf("visit %s: its manifest lacks the station or the stop (extra %v)", r.ID, extra)
	}
	v.Station, v.Stop = station, at
	return v, nil
}
