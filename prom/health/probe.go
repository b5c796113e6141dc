package health

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// ProbeReuse is how long a readiness result is reused: however many
// requests GET /readyz, the store sees at most a few probes a second.
const ProbeReuse = 250 * time.Millisecond

// ReadyTimeout bounds one readiness check, below the default health check
// timeout of sessionkit's router (500 ms): a store that does not answer
// within it is not ready.
const ReadyTimeout = 400 * time.Millisecond

// Probe is a node's readiness check, shared by the application's listener
// and the admin listener. It runs the check at most once per ProbeReuse (and
// once at a time: concurrent callers share a running check), and logs
// each change of state, with the reason when it turns not ready, rather
// than every failed check.
type Probe struct {
	check func(context.Context) error
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	checked bool
	at      time.Time     // when err was found
	err     error         // the latest result
	running chan struct{} // closed when the running check ends; nil while none runs
	down    bool          // the state last logged
}

// NewProbe returns the probe of check (nil: always ready), which logs to
// log (nil: slog.Default()).
func NewProbe(check func(context.Context) error, log *slog.Logger) *Probe {
	if log == nil {
		log = slog.Default()
	}
	return &Probe{check: check, log: log, now: time.Now}
}

// Check returns nil when the store is usable, else why not: the latest
// result when it is under ProbeReuse old, else a new check's, which is
// given ReadyTimeout.
func (p *Probe) Check(ctx context.Context) error {
	if p.check == nil {
		return nil
	}
	p.mu.Lock()
	if p.checked && p.now().Sub(p.at) < ProbeReuse {
		defer p.mu.Unlock()
		return p.err
	}
	if wait := p.running; wait != nil {
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	}
	done := make(chan struct{})
	p.running = done
	p.mu.Unlock()

	// The check is not cut short when its first caller goes away: the
	// callers that wait for it would get that caller's error.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReadyTimeout)
	err := p.check(cctx)
	cancel()

	p.mu.Lock()
	p.checked, p.at, p.err, p.running = true, p.now(), err, nil
	changed := (err != nil) != p.down
	p.down = err != nil
	p.mu.Unlock()
	close(done)
	if changed && err != nil {
		p.log.Warn("not ready: /readyz answers 503", "err", err)
	} else if changed {
		p.log.Info("ready again: /readyz answers 200")
	}
	return err
}

// ServeHTTP answers GET /readyz on the application's listener, which
// anyone reaches through the router: 200 "ready" or 503 "not ready", without
// the reason, which names the store's internal addresses (the log and
// the admin listener's /readyz give it).
func (p *Probe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if p.Check(r.Context()) != nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ready\n")
}

// Detail returns the handler of GET /readyz for the admin listener: as
// ServeHTTP, with the reason when not ready.
func (p *Probe) Detail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := p.Check(r.Context()); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
}
