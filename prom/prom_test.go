package prom_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/prom"
)

func TestObserver(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs := prom.New(reg)
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Set("a", "b")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(w.Result().Cookies()[0])
	h.ServeHTTP(httptest.NewRecorder(), r)

	want := `
# HELP sessionkit_store_operations_total Session store operations by operation and result.
# TYPE sessionkit_store_operations_total counter
sessionkit_store_operations_total{op="commit",result="ok"} 1
sessionkit_store_operations_total{op="create",result="ok"} 1
sessionkit_store_operations_total{op="load",result="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sessionkit_store_operations_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "sessionkit_store_duration_seconds"); n != 3 {
		t.Fatalf("%d duration series, want 3", n)
	}
	want = `
# HELP sessionkit_session_events_total Sessions created, renewed, destroyed, revoked (one per RevokeAll) and expired (as the store reports them).
# TYPE sessionkit_session_events_total counter
sessionkit_session_events_total{change="created"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sessionkit_session_events_total"); err != nil {
		t.Fatal(err)
	}
}

// Expired events, which come from the store, are counted by change, and
// never as store operations.
func TestObserverCountsExpired(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs := prom.New(reg)
	store := memstore.New(memstore.Config{CleanupInterval: 10 * time.Millisecond})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{Observer: obs, IdleTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Set("a", "b")
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	want := `
# HELP sessionkit_session_events_total Sessions created, renewed, destroyed, revoked (one per RevokeAll) and expired (as the store reports them).
# TYPE sessionkit_session_events_total counter
sessionkit_session_events_total{change="created"} 1
sessionkit_session_events_total{change="expired"} 1
`
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sessionkit_session_events_total")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no expired session counted before the deadline: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := testutil.CollectAndCount(reg, "sessionkit_store_operations_total"); n != 1 {
		t.Fatalf("%d operation series, want 1 (create)", n)
	}
}

// BenchmarkObserve: one store operation's event, as a request makes
// several.
func BenchmarkObserve(b *testing.B) {
	obs := prom.New(prometheus.NewRegistry())
	ev := sessionkit.Event{Op: sessionkit.OpLoad, Duration: time.Microsecond, Bytes: 200, Found: true}
	b.ReportAllocs()
	for b.Loop() {
		obs.Observe(b.Context(), ev)
	}
}
