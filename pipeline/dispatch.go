package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/evidence"
	"github.com/streetwatch/streetwatch/violation"
)

// openTickets opens the ticket service, the evidence stage's hand-off
// (handOff): a violation leaves the pending folder only once its ticket
// exists (CreateTicket is idempotent by violation id, so a repeat after a
// crash finds the same ticket).
func (p *Pipeline) openTickets() error {
	svc, err := dispatch.Open(context.Background(), p.cfg.Dispatch, p.cfg.StateDir, p.reg, p.log)
	if err != nil {
		return fmt.Errorf("tickets: %w", err)
	}
	svc.EvidenceURL = p.EvidenceURL
	svc.PublicURL = p.cfg.HTTP.PublicURL
	svc.Stations, svc.WeighingSources = p.cfg.Stations, p.cfg.Weighing.Sources
	if loc, err := time.LoadLocation(p.cfg.Weighing.Timezone); err == nil { // validated with the config
		svc.StationTimezone = loc
	}
	p.tickets = svc
	if len(p.cfg.Stations) > 0 {
		p.reconciler = dispatch.NewReconciler(svc, p.cfg, p.reg)
		svc.OnWeighing = p.recordBay
	}
	return nil
}

// keepEvidence tells evidence retention to keep a violation's evidence
// (its ticket is open or marked keep).
func (p *Pipeline) keepEvidence(violationID string) bool { return p.tickets.KeepEvidence(violationID) }

// handOff is the evidence stage's hand-off of a spooled violation: it
// becomes a ticket (CreateTicket logs it), then OnStored sees it. A
// station visit's bundle instead marks its visit's evidence stored.
func (p *Pipeline) handOff(st evidence.Stored) error {
	var err error
	switch st.Violation.Type {
	case violation.StationVisit:
		// A visit is no ticket: it is stored for reconciliation with the
		// station's weighing records, with where its evidence is.
		err = p.visitStored(st)
	case violation.WeighingBay:
		// Nor is a weighing record's bay clip: it waits for its case.
		err = p.bayStored(st)
	default:
		_, _, err = p.tickets.CreateTicket(context.Background(), ticketInput(st))
	}
	if err != nil {
		return err
	}
	if p.OnStored != nil {
		return p.OnStored(st)
	}
	return nil
}

func ticketInput(st evidence.Stored) dispatch.TicketInput {
	m := st.Manifest
	in := dispatch.TicketInput{
		Violation: st.Violation.Record, CameraName: st.Camera.Name,
		Lat: st.Camera.LatLon[0], Lon: st.Camera.LatLon[1], Address: st.Camera.Location,
		EvidencePrefix: st.Prefix, ManifestSHA256: st.ManifestSHA256,
	}
	if len(m.Models) > 0 {
		in.ModelName, in.ModelVersion = m.Models[0].Name, m.Models[0].Version
	}
	in.EvidenceFiles = evidenceFiles(m)
	return in
}

// evidenceFiles are the names of a bundle's files, its manifest's last.
func evidenceFiles(m *evidence.Manifest) []string {
	var files []string
	for _, f := range m.Files {
		files = append(files, f.Name)
	}
	return append(files, evidence.ManifestName)
}

// APIHandler serves the ticket API under /api/v1/ (nil without cameras
// with zones or stations).
func (p *Pipeline) APIHandler() http.Handler {
	if p.tickets == nil {
		return nil
	}
	return p.tickets.Handler()
}

// Tickets is the ticket service (nil without cameras with zones or
// stations).
func (p *Pipeline) Tickets() *dispatch.Service { return p.tickets }
