package router

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/internal/tick"
)

// checkHealth runs the active health checks until Close.
func (rt *Router) checkHealth() {
	defer close(rt.done)
	h := rt.cfg.Health
	client := &http.Client{Transport: rt.cfg.Transport, Timeout: h.Timeout}
	tick.Every(rt.stop, h.Interval, func(time.Time) {
		var wg sync.WaitGroup
		for _, b := range rt.view.Load().list {
			wg.Go(func() { rt.check(client, b) })
		}
		wg.Wait()
	})
}

// check runs one health check of b and moves its state after Rise passes
// or Fall failures in a row.
func (rt *Router) check(client *http.Client, b *backend) {
	h := rt.cfg.Health
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	ok := false
	req, err := http.NewRequestWithContext(ctx, "GET", b.url.JoinPath(h.Path).String(), nil)
	if err == nil {
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			ok = resp.StatusCode < 400
		}
	}
	if ok {
		b.failStreak.Store(0)
		if n := b.okStreak.Add(1); !b.healthy.Load() && int(n) >= h.Rise {
			b.healthy.Store(true)
			rt.cfg.Logger.Info("router: backend healthy", "backend", b.Name)
		}
	} else {
		b.okStreak.Store(0)
		if n := b.failStreak.Add(1); b.healthy.Load() && int(n) >= h.Fall {
			b.healthy.Store(false)
			rt.metrics.unhealthy(b.Name)
			rt.cfg.Logger.Warn("router: backend unhealthy", "backend", b.Name)
		}
	}
	rt.metrics.health(b)
}
