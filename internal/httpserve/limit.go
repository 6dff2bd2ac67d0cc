package httpserve

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// limitListener closes connections beyond max open ones from one client
// address, so that one client cannot take every connection the process
// can hold. Behind a reverse proxy every client shares the proxy's
// address: raise the limit there.
type limitListener struct {
	net.Listener
	max int
	log *slog.Logger

	mu         sync.Mutex
	open       map[string]int
	lastWarned time.Time
}

func newLimitListener(ln net.Listener, max int, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, max: max, log: log, open: map[string]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostOf(c.RemoteAddr())
		l.mu.Lock()
		if l.open[host] >= l.max {
			warn := time.Since(l.lastWarned) > time.Minute
			if warn {
				l.lastWarned = time.Now()
			}
			l.mu.Unlock()
			c.Close()
			if warn { // one line a minute at most: this is what a flood looks like
				l.log.Warn("http: too many connections from one address; closing the new ones", "remote", host, "max", l.max)
			}
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *limitListener) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
}

type limitedConn struct {
	net.Conn
	l    *limitListener
	host string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
