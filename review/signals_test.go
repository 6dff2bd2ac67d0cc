package review

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/dispatch"
	"github.com/streetwatch/streetwatch/violation"
)

// addCase files a case of class confirmed by signals, with evidence.
func (f *fixture) addCase(n int, class string, signals ...string) *dispatch.Ticket {
	f.t.Helper()
	at := time.Date(2026, 11, 25, 10, n, 0, 0, time.UTC)
	in := dispatch.TicketInput{
		Violation: violation.Record{ID: "01VIOLATIONSIGNALS00000000" + string(rune('A'+n)), Type: violation.IllegalDumping,
			Camera: "station-1", Zone: "pavement", Class: class, Signals: signals, FirstSeen: at, ConfirmedAt: at.Add(time.Minute), Confidence: 0.5},
		CameraName: "白云站 1", ModelName: "streetwatch-demo", ModelVersion: "1",
	}
	in.EvidencePrefix = "2026/11/25/station-1/" + in.Violation.ID + "/"
	in.EvidenceFiles = f.putEvidence(in)
	tk, _, err := f.svc.CreateTicket(context.Background(), in)
	if err != nil {
		f.t.Fatal(err)
	}
	return tk
}

// A reviewer sees which signals confirmed each case; an object no class
// of the model named is an unclassified object left behind, and a case
// the left-object detector alone confirmed says its confidence is lower.
func TestPagesSayWhichSignalsConfirmedTheCase(t *testing.T) {
	f := newFixture(t)
	leftOnly := f.addCase(0, violation.ClassLeftObject, dispatch.SignalLeftObject)
	both := f.addCase(1, violation.ClassGarbageBag, dispatch.SignalModel, dispatch.SignalLeftObject)
	model := f.tickets[0] // made without signals: the model's
	c := f.client()
	c.signIn("alice")

	for _, lang := range []struct {
		q, object, lowConf, leftSignal, modelSignal string
	}{
		{"", "未分类遗留物", "置信度较低：仅遗留物检测", "遗留物检测", "分类模型"},
		{"?lang=en", "unclassified object left behind", "lower confidence: left object only", "left object", "class model"},
	} {
		for _, tc := range []struct {
			tk              *dispatch.Ticket
			object          string
			signals         []string
			lowerConfidence bool
		}{
			{leftOnly, lang.object, []string{lang.leftSignal}, true},
			{both, "garbage_bag", []string{lang.modelSignal, lang.leftSignal}, false},
			{model, "garbage_bag", []string{lang.modelSignal}, false}, // class from the manifest
		} {
			page := c.get("/tickets/" + tc.tk.ID + lang.q).body
			if got := between(page, `<dd id="object">`, "</dd>"); got != tc.object {
				t.Errorf("%s%s: object %q, want %q", tc.tk.ID, lang.q, got, tc.object)
			}
			dd := between(page, `<dd id="signals">`, "</dd>")
			for _, s := range tc.signals {
				if !strings.Contains(dd, ">"+s+"<") {
					t.Errorf("%s%s: signals %q lack %q", tc.tk.ID, lang.q, dd, s)
				}
			}
			if got := strings.Contains(dd, lang.lowConf); got != tc.lowerConfidence {
				t.Errorf("%s%s: lower-confidence badge %v, want %v", tc.tk.ID, lang.q, got, tc.lowerConfidence)
			}
		}

		queue := c.get("/" + lang.q).body
		row := func(id string) string { return between(queue, `data-id="`+id+`"`, "</tr>") }
		if r := row(leftOnly.ID); !strings.Contains(r, lang.object) || !strings.Contains(r, lang.lowConf) || !strings.Contains(r, ">"+lang.leftSignal+"<") {
			t.Errorf("queue%s: the left-object case's row does not say so:\n%s", lang.q, r)
		}
		if r := row(both.ID); strings.Contains(r, lang.object) || strings.Contains(r, lang.lowConf) || !strings.Contains(r, ">"+lang.modelSignal+"<") {
			t.Errorf("queue%s: the case the model confirmed too:\n%s", lang.q, r)
		}
	}
}
