package evidence

import (
	"slices"
	"testing"
	"time"
)

// The actor's picture says when it was taken (to the millisecond, in the
// camera's time zone), under the lines every snapshot has, then the
// event's own notes.
func TestActorPictureCaptionSaysWhenItWasTaken(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"kerb-1  2026-12-03 16:00:30 CST", "illegal_dumping  zone kerb  id X"}
	ev := &Event{AppearCaption: []string{"actor not in this frame: see the clip"}}
	ev.Violation.ActorAt = time.Date(2026, 12, 3, 8, 0, 10, 250e6, time.UTC)
	got := actorCaption(common, ev, loc)
	want := append(slices.Clone(common), "frame at 2026-12-03 16:00:10.250 CST", "actor not in this frame: see the clip")
	if !slices.Equal(got, want) {
		t.Errorf("caption %q, want %q", got, want)
	}
	if len(common) != 2 {
		t.Errorf("the common caption was changed: %q", common)
	}
	ev = &Event{}
	if got := actorCaption(common, ev, loc); !slices.Equal(got, common) {
		t.Errorf("without an actor time: %q, want the common lines", got)
	}
}
