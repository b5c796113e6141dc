package otelsession_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/otelsession"
)

// newProvider returns a tracer provider whose spans, once ended, are in
// the returned exporter.
func newProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, exp
}

// TestStoreOperationSpans: a request that creates a session and one that
// loads and changes it give a create, a load and a commit span, each the
// child of the request's span, with the operation's attributes; no
// attribute, event or status holds the token or its hash.
func TestStoreOperationSpans(t *testing.T) {
	tp, exp := newProvider(t)
	store := memstore.New(memstore.Config{})
	t.Cleanup(func() { store.Close() })
	mgr, err := sessionkit.New(store, sessionkit.Config{Observer: otelsession.New(tp)})
	if err != nil {
		t.Fatal(err)
	}
	tracer := tp.Tracer("test")
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+1)
	}))
	// serve serves one request inside a span of the test's, as an
	// instrumented server would, and returns the span's ID.
	serve := func(cookie *http.Cookie) (*http.Cookie, string) {
		ctx, span := tracer.Start(context.Background(), "request")
		defer span.End()
		r := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if c := w.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
		return cookie, span.SpanContext().SpanID().String()
	}
	cookie, first := serve(nil)
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	_, second := serve(cookie)

	tok := sessionkit.Token(cookie.Value)
	hash := tok.Hash()
	secrets := []string{cookie.Value, hex.EncodeToString(hash[:]), string(hash[:])}

	type want struct {
		parent string
		found  bool
	}
	wants := map[string]want{
		"sessionkit.create": {first, true},
		"sessionkit.load":   {second, true},
		"sessionkit.commit": {second, true},
	}
	seen := map[string]bool{}
	for _, s := range exp.GetSpans() {
		for _, v := range strings.Fields(s.Status.Description) {
			leak(t, s.Name, "status", v, secrets)
		}
		for _, a := range s.Attributes {
			leak(t, s.Name, string(a.Key), a.Value.String(), secrets)
		}
		for _, e := range s.Events {
			for _, a := range e.Attributes {
				leak(t, s.Name, string(a.Key), a.Value.String(), secrets)
			}
		}
		w, ok := wants[s.Name]
		if !ok {
			continue
		}
		seen[s.Name] = true
		if got := s.Parent.SpanID().String(); got != w.parent {
			t.Errorf("%s: parent %s, want the request's span %s", s.Name, got, w.parent)
		}
		op := strings.TrimPrefix(s.Name, "sessionkit.")
		if v := attr(s, "sessionkit.op"); v.AsString() != op {
			t.Errorf("%s: sessionkit.op %q", s.Name, v.AsString())
		}
		if v := attr(s, "sessionkit.found"); v.AsBool() != w.found {
			t.Errorf("%s: sessionkit.found %v", s.Name, v.AsBool())
		}
		if v := attr(s, "sessionkit.bytes"); v.AsInt64() <= 0 {
			t.Errorf("%s: sessionkit.bytes %v", s.Name, v.String())
		}
		if s.Status.Code == codes.Error {
			t.Errorf("%s: error status %q", s.Name, s.Status.Description)
		}
	}
	for name := range wants {
		if !seen[name] {
			t.Errorf("no %s span among %v", name, names(exp.GetSpans()))
		}
	}
}

// attr returns the span's attribute named key.
func attr(s tracetest.SpanStub, key attribute.Key) attribute.Value {
	set := attribute.NewSet(s.Attributes...)
	v, _ := set.Value(key)
	return v
}

func leak(t *testing.T, span, key, value string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(value, s) {
			t.Errorf("span %s: %s holds the token or its hash: %q", span, key, value)
		}
	}
}

func names(spans tracetest.SpanStubs) []string {
	var v []string
	for _, s := range spans {
		v = append(v, s.Name)
	}
	return v
}

// failing is a store whose every operation fails, as a store whose
// server is down does.
type failing struct{ sessionkit.Store }

func (failing) Load(context.Context, sessionkit.Token) (sessionkit.Record, bool, error) {
	return sessionkit.Record{}, false, sessionkit.ErrUnavailable
}

// TestFailedOperation: a load that failed has the error status; one that
// found no session does not.
func TestFailedOperation(t *testing.T) {
	tp, exp := newProvider(t)
	store := memstore.New(memstore.Config{})
	t.Cleanup(func() { store.Close() })
	for _, s := range []sessionkit.Store{failing{store}, store} {
		mgr, err := sessionkit.New(s, sessionkit.Config{Observer: otelsession.New(tp)})
		if err != nil {
			t.Fatal(err)
		}
		h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sessionkit.Get[string](sessionkit.FromContext(r.Context()), "x")
		}))
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "__Host-session", Value: string(sessionkit.NewToken())})
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "sessionkit.load" || spans[1].Name != "sessionkit.load" {
		t.Fatalf("spans %v, want two loads", names(spans))
	}
	if spans[0].Status.Code != codes.Error {
		t.Errorf("failed load: status %v", spans[0].Status)
	}
	if spans[1].Status.Code == codes.Error {
		t.Errorf("load of a session not found: status %v", spans[1].Status)
	}
	if attr(spans[1], "sessionkit.found").AsBool() {
		t.Error("load of a session not found: sessionkit.found true")
	}
}

// counter is an Observer that counts the events it gets.
type counter struct{ n int }

func (c *counter) Observe(context.Context, sessionkit.Event) { c.n++ }

// TestObserveEndsOnlyItsOwnSpans: an Event that StartOp did not begin (a
// lifecycle event, reported with the request's context) ends no span,
// and every Event goes on to the next Observer.
func TestObserveEndsOnlyItsOwnSpans(t *testing.T) {
	tp, exp := newProvider(t)
	next := &counter{}
	tr := otelsession.New(tp, otelsession.WithObserver(next))
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	tr.Observe(ctx, sessionkit.Event{Op: sessionkit.OpLoad})
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Fatalf("Observe ended %v", names(spans))
	}
	op := tr.StartOp(ctx, sessionkit.OpCommit)
	tr.Observe(op, sessionkit.Event{Op: sessionkit.OpCommit, Found: true})
	request.End()
	if spans := exp.GetSpans(); len(spans) != 2 || spans[0].Name != "sessionkit.commit" || spans[1].Name != "request" {
		t.Fatalf("spans %v, want the commit's then the request's", names(spans))
	}
	if next.n != 2 {
		t.Fatalf("the next Observer got %d events, want 2", next.n)
	}
}

// TestPropagation: the trace context Inject writes, Extract reads back
// in another process's Tracer; a context without a span injects nothing.
func TestPropagation(t *testing.T) {
	tp, _ := newProvider(t)
	tr := otelsession.New(tp)
	if c := tr.Inject(context.Background()); c != nil {
		t.Fatalf("Inject without a span: %v", c)
	}
	ctx, end := tr.Start(context.Background(), "sessionkit.replicate")
	defer end(nil)
	carrier := tr.Inject(ctx)
	if carrier["traceparent"] == "" {
		t.Fatalf("carrier %v has no traceparent", carrier)
	}
	other := otelsession.New(nil)
	got := other.Extract(context.Background(), carrier)
	remote := trace.SpanContextFromContext(got)
	if want := trace.SpanContextFromContext(ctx); !remote.IsRemote() || remote.TraceID() != want.TraceID() || remote.SpanID() != want.SpanID() {
		t.Fatalf("extracted %v, want %v", remote, want)
	}
	if f := tr.Fields(); len(f) == 0 || f[0] != "traceparent" {
		t.Fatalf("Fields %v", f)
	}
}
