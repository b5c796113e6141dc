package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/shop"
	"github.com/sessionkit/sessionkit/internal/proctest"

	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/memstore"
)

// TestQuiesce: a stopping node waits for a pause in the shop's requests,
// which health checks do not break, and no longer than its context.
func TestQuiesce(t *testing.T) {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	n, err := Start(Config{Store: store, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	get := func(path string) error {
		resp, err := http.Get(n.URL() + path)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	// keep gets path every 10 ms until the returned stop is called.
	keep := func(path string) (stop func()) {
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(10 * time.Millisecond):
					get(path)
				}
			}
		}()
		return func() { close(done) }
	}

	// A pause in the shop's requests, while health checks go on.
	last := time.Now() // before the request: the node notes it later
	if err := get("/"); err != nil {
		t.Fatal(err)
	}
	stopChecks := keep("/healthz")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Quiesce(ctx, 300*time.Millisecond)
	stopChecks()
	if ctx.Err() != nil {
		t.Fatal("health checks held Quiesce until its context ended")
	}
	if d := time.Since(last); d < 300*time.Millisecond {
		t.Fatalf("Quiesce returned %v after the last shop request, want at least 300ms", d)
	}

	// Shop requests that keep coming hold it until its context ends.
	if err := get("/"); err != nil {
		t.Fatal(err)
	}
	stopShop := keep("/")
	defer stopShop()
	short, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	n.Quiesce(short, time.Second)
	if short.Err() == nil {
		t.Fatal("Quiesce returned while requests kept coming and its context was live")
	}
}

// TestReadyzHidesReason: the shop's /readyz, which anyone reaches
// through the router, answers 503 "not ready" without the reason, which
// names the store's internal address; the admin listener's handler gives
// the reason, and the log gives it once per change of state, not once
// per request.
func TestReadyzHidesReason(t *testing.T) {
	const addr = "10.1.2.3:6379"
	var down atomic.Bool
	down.Store(true)
	var logs proctest.Buffer
	store := memstore.New(memstore.Config{})
	defer store.Close()
	n, err := Start(Config{Store: store, Dev: true, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Ready: func(context.Context) error {
			if down.Load() {
				return errors.New("dial tcp " + addr + ": connect: connection refused")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(n.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for range 20 {
		if code, body := get(); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != "not ready" {
			t.Fatalf("the shop's /readyz with the store down: %d %q, want 503 \"not ready\"", code, body)
		}
	}
	rec := httptest.NewRecorder()
	n.Readiness().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), addr) {
		t.Fatalf("the admin listener's /readyz: %d %q, want 503 with the reason", rec.Code, rec.Body.String())
	}
	if got := strings.Count(logs.String(), addr); got != 1 {
		t.Fatalf("the reason is logged %d times, want once:\n%s", got, logs.String())
	}

	down.Store(false)
	if err := proc.WaitFor(10*time.Second, func() error {
		if code, body := get(); code != 200 || body != "ready\n" {
			return fmt.Errorf("the shop's /readyz with the store back: %d %q", code, body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "ready again") {
		t.Fatalf("the return to ready is not logged:\n%s", logs.String())
	}
}

// TestBaselineNode: a node with the baseline as its App serves the shop's
// API without a store or a Manager, through the node's own middleware (its
// header, its request counter), so that what it costs differs from a shop
// node's by the sessions alone.
func TestBaselineNode(t *testing.T) {
	n, err := Start(Config{Name: "b1", App: shop.Baseline("b1"), Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if n.Manager != nil {
		t.Fatal("a baseline node has a Manager")
	}
	resp, err := http.Get(n.URL() + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Sessionkit-Node") != "b1" || !strings.Contains(string(body), `"strategy":"baseline"`) || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("GET /api/session: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	rec := httptest.NewRecorder()
	n.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `sessionkit_shop_requests_total{code="200"} 1`) {
		t.Fatalf("the request counter did not count the request:\n%s", rec.Body.String())
	}
	if _, err := Start(Config{Dev: true}); err == nil {
		t.Fatal("a shop node without a store started")
	}
}
