package ingest

import (
	"context"
	"log/slog"
	"time"

	"github.com/streetwatch/streetwatch/internal/lograte"
)

// logEvery is the least time between two lines of one kind for one camera
// at their own level. A camera that sends garbage, changes its parameter
// sets on every picture or drops every connection would otherwise fill the
// log (issue 14: 150 lines a second); the metrics count every occurrence.
const logEvery = time.Minute

// logLimits are a camera's limiters for the lines it could repeat without
// end. They live on the Source, so reconnecting does not reset them.
type logLimits struct {
	resolution, badSPS, depacketize lograte.Limiter
	connected, reconnect            lograte.Limiter
}

func (l *logLimits) init() {
	for _, lim := range []*lograte.Limiter{&l.resolution, &l.badSPS, &l.depacketize, &l.connected, &l.reconnect} {
		if lim.Every == 0 {
			lim.Every = logEvery
		}
	}
}

// logLimited logs the first line of a burst at level, then at most one a
// logEvery with how many were held back ("suppressed"). Held lines go to
// Debug, so they are there when someone asks for them.
func logLimited(log *slog.Logger, lim *lograte.Limiter, level slog.Level, msg string, args ...any) {
	ok, held := lim.Allow(time.Now())
	if !ok {
		log.Debug(msg, args...)
		return
	}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Log(context.Background(), level, msg, args...)
}
