package tracing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/clusterstore"
	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/otelsession"
	"github.com/sessionkit/sessionkit/router"
)

// The Tracer fills the hooks of the cluster store and the router.
var (
	_ clusterstore.Tracer  = (*otelsession.Tracer)(nil)
	_ router.Tracer        = (*otelsession.Tracer)(nil)
	_ sessionkit.OpStarter = (*otelsession.Tracer)(nil)
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// node is one cluster store node with its own tracer provider, as a
// process of its own would have: what it exports is in exp.
type node struct {
	store *clusterstore.Store
	exp   *tracetest.InMemoryExporter
	mgr   *sessionkit.Manager
}

func newProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, exp
}

// startNodes starts two traced nodes of one cluster, each the other's
// backup (Backups 1, AckOne), and waits until the first serves writes.
func startNodes(t *testing.T) (a, b *node) {
	t.Helper()
	key := []byte(strings.Repeat("t", 32))
	var nodes []*node
	seed := ""
	for i := range 2 {
		tp, exp := newProvider(t)
		tr := otelsession.New(tp)
		var s *clusterstore.Store
		var err error
		for range 5 { // a port free a moment ago may be taken meanwhile
			var port int
			if port, err = proc.FreePort(); err != nil {
				break
			}
			cfg := clusterstore.Config{
				Name: fmt.Sprintf("n%d", i+1), Gossip: fmt.Sprintf("127.0.0.1:%d", port), Data: "127.0.0.1:0",
				Key: key, Backups: 1, Trace: tr, Logger: quiet,
			}
			if seed != "" {
				cfg.Join = []string{seed}
			}
			if s, err = clusterstore.New(context.Background(), cfg); !proc.AddrInUse(err) {
				if seed == "" {
					seed = cfg.Gossip
				}
				break
			}
		}
		if err != nil {
			t.Fatalf("clusterstore.New: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		mgr, err := sessionkit.New(s, sessionkit.Config{Observer: tr})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &node{store: s, exp: exp, mgr: mgr})
	}
	a, b = nodes[0], nodes[1]
	err := proc.WaitFor(20*time.Second, func() error {
		for _, n := range nodes {
			if m := n.store.Members(); len(m) != 2 || !n.store.Warm() {
				return fmt.Errorf("a node sees %d members, warm %v", len(m), n.store.Warm())
			}
		}
		// A write at its owner, acknowledged by the backup: the owner
		// holds its lease.
		tok, err := a.store.Mint(context.Background())
		if err != nil {
			return err
		}
		now := time.Now()
		_, err = a.store.Create(context.Background(), tok, sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Minute), Deadline: now.Add(time.Minute)}})
		return err
	})
	if err != nil {
		t.Fatalf("the cluster does not serve: %v", err)
	}
	for _, n := range nodes {
		n.exp.Reset()
	}
	return a, b
}

// visit serves one request of a page that counts visits in the session,
// at the node's Manager, and returns the session cookie.
func (n *node) visit(t *testing.T, cookie *http.Cookie) *http.Cookie {
	t.Helper()
	h := n.mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		v, _ := sessionkit.Get[int](s, "visits")
		if err := s.Set("visits", v+1); err != nil {
			http.Error(w, err.Error(), sessionkit.ErrorStatus(err))
		}
	}))
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("visit: %d %s", w.Code, w.Body)
	}
	if c := w.Result().Cookies(); len(c) > 0 {
		return c[0]
	}
	return cookie
}

// child waits for the span named name that exp holds as a child of
// parent, in parent's trace.
func child(t *testing.T, exp *tracetest.InMemoryExporter, name string, parent trace.SpanContext) trace.SpanContext {
	t.Helper()
	var found trace.SpanContext
	err := proc.WaitFor(10*time.Second, func() error {
		var seen []string
		for _, s := range exp.GetSpans() {
			if s.Name == name && s.Parent.SpanID() == parent.SpanID() && s.SpanContext.TraceID() == parent.TraceID() {
				found = s.SpanContext
				return nil
			}
			seen = append(seen, s.Name+"<"+s.Parent.SpanID().String())
		}
		return fmt.Errorf("no %s span under %s among %v", name, parent.SpanID(), seen)
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// root returns the one span named name that exp holds.
func root(t *testing.T, exp *tracetest.InMemoryExporter, name string) trace.SpanContext {
	t.Helper()
	var found []trace.SpanContext
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			found = append(found, s.SpanContext)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s spans, want 1", len(found), name)
	}
	return found[0]
}

// TestTraceAcrossOwnerAndBackup: a session created at its owner is
// replicated to its backup in the create's trace: the backup's apply span
// is the child of the owner's replicate span, itself the create's child.
// A request at the backup for that session forwards its commit to the
// owner: the commit's trace runs from the backup's commit span through
// its forward span to the owner's serving of the call, the owner's
// replication and, back at the backup, the apply.
func TestTraceAcrossOwnerAndBackup(t *testing.T) {
	a, b := startNodes(t)

	cookie := a.visit(t, nil)
	create := root(t, a.exp, "sessionkit.create")
	replicate := child(t, a.exp, "sessionkit.replicate", create)
	child(t, b.exp, "sessionkit.apply", replicate)

	b.visit(t, cookie)
	commit := root(t, b.exp, "sessionkit.commit")
	forward := child(t, b.exp, "sessionkit.forward", commit)
	served := child(t, a.exp, "sessionkit.serve.commit", forward)
	replicate = child(t, a.exp, "sessionkit.replicate", served)
	child(t, b.exp, "sessionkit.apply", replicate)

	for _, exp := range []*tracetest.InMemoryExporter{a.exp, b.exp} {
		for _, s := range exp.GetSpans() {
			for _, kv := range s.Attributes {
				if strings.Contains(kv.Value.String(), cookie.Value) {
					t.Errorf("span %s: %s holds the token", s.Name, kv.Key)
				}
			}
		}
	}
}

// TestTraceThroughRouter: the router's span is the child of the client's
// trace context, and the backend gets the router span's traceparent, on
// the router's Server as on a plain http.Server.
func TestTraceThroughRouter(t *testing.T) {
	got := make(chan string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			got <- r.Header.Get("Traceparent")
		}
	}))
	t.Cleanup(backend.Close)
	tp, exp := newProvider(t)
	rt, err := router.New(router.Config{Trace: otelsession.New(tp), Logger: quiet}, []router.Member{{Name: "n1", URL: backend.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })

	plain := httptest.NewServer(rt)
	t.Cleanup(plain.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &router.Server{Router: rt, HTTP: &http.Server{ReadHeaderTimeout: 10 * time.Second}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })

	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, url := range []string{plain.URL, "http://" + ln.Addr().String()} {
		exp.Reset()
		req, _ := http.NewRequest("GET", url+"/page", nil)
		req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
		client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		client.CloseIdleConnections()
		var header string
		select {
		case header = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("the backend got no request")
		}
		// The span ends once the response is written: wait for it.
		var spans tracetest.SpanStubs
		err = proc.WaitFor(10*time.Second, func() error {
			if spans = exp.GetSpans(); len(spans) != 1 || spans[0].Name != "sessionkit.route" {
				return fmt.Errorf("spans %v, want one sessionkit.route", spans)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		s := spans[0]
		if s.Parent.TraceID().String() != clientTrace || s.Parent.SpanID().String() != clientSpan {
			t.Errorf("%s: the route span's parent is %s/%s, want the client's", url, s.Parent.TraceID(), s.Parent.SpanID())
		}
		want := "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"
		if header != want {
			t.Errorf("%s: the backend got traceparent %q, want the route span's %q", url, header, want)
		}
	}
}
