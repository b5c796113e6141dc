package health

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestProbeReused: a flood of readiness checks costs the store one probe
// per ProbeReuse, and a caller that goes away does not cut short the
// probe that others share.
func TestProbeReused(t *testing.T) {
	var calls atomic.Int32
	p := NewProbe(func(ctx context.Context) error {
		calls.Add(1)
		return ctx.Err()
	}, slog.New(slog.DiscardHandler))
	now := time.Unix(1_000_000, 0)
	p.now = func() time.Time { return now }

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Check(gone); err != nil {
		t.Fatalf("a caller that went away cut the probe short: %v", err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				if err := p.Check(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Fatalf("1001 checks within ProbeReuse probed the store %d times, want 1", got)
	}
	now = now.Add(ProbeReuse - time.Millisecond)
	p.Check(context.Background())
	if got := calls.Load(); got != 1 {
		t.Fatalf("a check just within ProbeReuse probed again (%d probes)", got)
	}
	now = now.Add(time.Millisecond)
	p.Check(context.Background())
	if got := calls.Load(); got != 2 {
		t.Fatalf("a check ProbeReuse after the last probe did not probe (%d probes)", got)
	}
	if err := NewProbe(nil, slog.New(slog.DiscardHandler)).Check(context.Background()); err != nil {
		t.Fatalf("no check: %v, want ready", err)
	}
}

// TestEndpoints: the application's /readyz hides the reason the admin
// listener's gives; /healthz answers on both; /metrics serves the
// registry, with the Manager's observer and the runtime's metrics.
func TestEndpoints(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	reg := prometheus.NewRegistry()
	n := New(Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), Ready: func(context.Context) error {
		if down.Load() {
			return errors.New("dial tcp 10.1.2.3:6379: connection refused")
		}
		return nil
	}})
	if o := n.Observer(); n.Registry() != reg || o != n.Observer() {
		t.Fatal("Registry or Observer does not return the node's own")
	}
	app := http.NewServeMux()
	n.Register(app)
	admin := n.Admin()
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, string(body)
	}
	for _, c := range []struct {
		h          http.Handler
		path       string
		code       int
		body, hide string
	}{
		{app, "/healthz", 200, "ok", ""},
		{admin, "/healthz", 200, "ok", ""},
		{app, "/readyz", 503, "not ready", "10.1.2.3"},
		{admin, "/readyz", 503, "10.1.2.3", ""},
		{admin, "/metrics", 200, "go_goroutines", ""},
	} {
		code, body := get(c.h, c.path)
		if code != c.code || !strings.Contains(body, c.body) || (c.hide != "" && strings.Contains(body, c.hide)) {
			t.Errorf("%s: %d %q, want %d with %q", c.path, code, body, c.code, c.body)
		}
	}
	down.Store(false)
	n.Probe().now = func() time.Time { return time.Now().Add(ProbeReuse) } // the last result is stale
	if code, body := get(app, "/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz with the store back: %d %q", code, body)
	}
}
