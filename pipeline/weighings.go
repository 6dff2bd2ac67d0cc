package pipeline

import (
	"context"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/stations"
	"github.com/streetwatch/streetwatch/violation"
)

// Keys of a weighing record's bay bundle's manifest "extra".
const (
	extraSource   = "source"
	extraRecordID = "record_id"
)

// recordBay cuts the clip of a weighing record's station bay for the span
// a fitting vehicle would have stood there (the reconcile window's Watch
// span) as the record arrives, while the bay camera's history still holds
// it: the evidence of the weighing_without_visit ticket the reconciler
// makes if no visit explains the record. Most records find their visit;
// their bay bundles are deleted with retention like any evidence no
// ticket holds.
func (p *Pipeline) recordBay(w stations.Weighing) {
	cam, ok := bayCamera(p.cfg, w.Station)
	if !ok || p.evidence == nil {
		return
	}
	from, to := p.cfg.Weighing.Reconcile.Window().Watch(w.Time)
	if time.Since(from) > visitClip {
		p.log.Info("weighing record too old for the bay camera's history: no bay clip", "camera", cam.ID,
			"station", w.Station, "record", w.Source+"/"+w.RecordID, "time", w.Time)
		return
	}
	id := dispatch.RecordViolationID(w)
	rec := violation.Record{ID: id, Type: violation.WeighingBay, Camera: cam.ID, Zone: bayZone, FirstSeen: from, ConfirmedAt: to,
		Signals: []string{dispatch.SignalWeighing}}
	ev := &evidence.Event{
		Violation: evidence.ViolationRecord{Record: rec},
		Camera:    cameraRecord(cam),
		Models:    p.evidence.models,
		TimeZone:  zoneTimezone(cam, ""),
		Extra:     map[string]any{extraStation: w.Station, extraSource: w.Source, extraRecordID: w.RecordID},
	}
	if err := p.evidence.recorder.Record(ev); err != nil {
		p.log.Error("weighing record's bay clip could not be saved", "camera", cam.ID, "record", w.Source+"/"+w.RecordID, "err", err)
	}
}

// bayCamera is the first camera watching a station's bay (the one its
// weighing_without_visit tickets are on).
func bayCamera(cfg *config.Config, station string) (config.Camera, bool) {
	for _, c := range cfg.Cameras {
		if c.Station != nil && c.Station.ID == station && len(c.Station.Bay) > 0 {
			return c, true
		}
	}
	return config.Camera{}, false
}

// bayStored is the hand-off of a weighing record's bay bundle: kept for
// the case the reconciler may make of the record.
func (p *Pipeline) bayStored(st evidence.Stored) error {
	return p.tickets.PutCaseEvidence(context.Background(), st.Violation.ID, dispatch.Evidence{
		Prefix: st.Prefix, Files: evidenceFiles(st.Manifest), ManifestSHA256: st.ManifestSHA256})
}

func cameraRecord(cam config.Camera) evidence.CameraRecord {
	return evidence.CameraRecord{ID: cam.ID, Name: cam.Name, Location: cam.Location.Address,
		LatLon: [2]float64{cam.Location.Lat, cam.Location.Lon}}
}
