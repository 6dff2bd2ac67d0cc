package evidence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"
)

// Retention deletes evidence older than its Days, except the evidence of
// violations Keep says to keep (an open ticket, or one marked keep). Keys it
// does not recognise as YYYY/MM/DD/<camera>/<violation-id>/<file> are never
// deleted.
//
// Lifecycle: NewRetention, then Run until its context ends (or Sweep
// alone).
type Retention struct {
	days    int
	every   time.Duration
	store   Store
	keep    func(violationID string) bool
	metrics *Metrics
	log     *slog.Logger
}

// RetentionConfig says how long evidence is kept.
type RetentionConfig struct {
	// Days evidence is kept (required, > 0: zero would delete everything).
	Days int
	// Every is the time between sweeps in Run (default an hour).
	Every time.Duration
}

// RetentionDeps are the parts Retention works with.
type RetentionDeps struct {
	Store Store // required
	// Keep reports whether a violation's evidence must stay whatever its
	// age; nil keeps nothing beyond Days.
	Keep    func(violationID string) bool
	Metrics *Metrics     // nil: unregistered metrics
	Log     *slog.Logger // nil: slog.Default()
}

// NewRetention checks the config and applies the defaults.
func NewRetention(cfg RetentionConfig, deps RetentionDeps) (*Retention, error) {
	if cfg.Days <= 0 {
		return nil, fmt.Errorf("evidence: retention: days is %d, want > 0", cfg.Days)
	}
	if cfg.Every < 0 {
		return nil, fmt.Errorf("evidence: retention: interval %v must be positive", cfg.Every)
	}
	if deps.Store == nil {
		return nil, errors.New("evidence: retention: no store")
	}
	r := &Retention{days: cfg.Days, every: cfg.Every, store: deps.Store, keep: deps.Keep, metrics: deps.Metrics, log: deps.Log}
	if r.every == 0 {
		r.every = time.Hour
	}
	if r.metrics == nil {
		r.metrics = NewMetrics(nil)
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

// Sweep deletes the objects of every violation whose date (the key's
// YYYY/MM/DD, UTC) is more than the configured days before now's date, unless keep
// says otherwise. A bundle's manifest is deleted first, so a manifest in
// the store still means every file it lists is there. Sweep goes on past a
// failed delete and reports the errors together at the end.
func (r *Retention) Sweep(ctx context.Context, now time.Time) (deleted int, err error) {
	if r.days <= 0 { // a Retention not made by NewRetention
		return 0, fmt.Errorf("evidence: retention: days is %d, want > 0", r.days)
	}
	metrics, log := r.metrics, r.log
	y, m, d := now.UTC().Date()
	cutoff := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -r.days)

	objs, err := r.store.List(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("evidence: retention: %w", err)
	}
	// Group by violation folder so Keep is asked once per violation.
	type violation struct {
		id   string
		keys []string
	}
	var order []string
	byPrefix := map[string]*violation{}
	for _, o := range objs {
		prefix, id, day, ok := parseKey(o.Key)
		if !ok || !day.Before(cutoff) {
			continue
		}
		v := byPrefix[prefix]
		if v == nil {
			v = &violation{id: id}
			byPrefix[prefix] = v
			order = append(order, prefix)
		}
		v.keys = append(v.keys, o.Key)
	}
	var errs []error
	kept := 0
	for _, prefix := range order {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		v := byPrefix[prefix]
		if r.keep != nil && r.keep(v.id) {
			kept++
			continue
		}
		sort.SliceStable(v.keys, func(i, j int) bool {
			return path.Base(v.keys[i]) == ManifestName && path.Base(v.keys[j]) != ManifestName
		})
		for _, key := range v.keys {
			if err := r.store.Delete(ctx, key); err != nil {
				errs = append(errs, err)
				break // keep the rest of this bundle for the next sweep
			}
			deleted++
			metrics.Deleted.Inc()
		}
	}
	if deleted > 0 || kept > 0 || len(errs) > 0 {
		log.Info("evidence retention sweep", "store", r.store.Name(), "cutoff", cutoff.Format(time.DateOnly),
			"deleted", deleted, "kept_violations", kept, "errors", len(errs))
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("evidence: retention: %w", errors.Join(errs...))
	}
	return deleted, nil
}

// parseKey splits YYYY/MM/DD/<camera>/<violation-id>/<file...>.
func parseKey(key string) (prefix, violationID string, day time.Time, ok bool) {
	segs := strings.SplitN(key, "/", 6)
	if len(segs) < 6 || len(segs[0]) != 4 || len(segs[1]) != 2 || len(segs[2]) != 2 {
		return "", "", time.Time{}, false
	}
	day, err := time.Parse("2006/01/02", strings.Join(segs[:3], "/"))
	if err != nil {
		return "", "", time.Time{}, false
	}
	return strings.Join(segs[:5], "/") + "/", segs[4], day, true
}

// Run sweeps now and then every interval until ctx ends (then it returns
// nil). A failed sweep is logged and tried again at the next tick.
func (r *Retention) Run(ctx context.Context) error {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		if _, err := r.Sweep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Error("evidence retention sweep failed", "store", r.store.Name(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
