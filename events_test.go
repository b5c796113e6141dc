package sessionkit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/webtest"
	"github.com/sessionkit/sessionkit/memstore"
)

type requestKey struct{}

// lifecycle is an Observer that keeps the lifecycle events it sees, with
// the requestKey value of their context, and signals each one.
type lifecycle struct {
	mu     sync.Mutex
	events []sessionkit.Event
	marks  []any
	seen   chan sessionkit.Event
}

func newLifecycle() *lifecycle { return &lifecycle{seen: make(chan sessionkit.Event, 100)} }

func (l *lifecycle) Observe(ctx context.Context, e sessionkit.Event) {
	if e.Change == 0 {
		return
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.marks = append(l.marks, ctx.Value(requestKey{}))
	l.mu.Unlock()
	select {
	case l.seen <- e:
	default:
	}
}

// next returns the next lifecycle event, failing the test if none comes
// within the deadline.
func (l *lifecycle) next(t *testing.T, within time.Duration) sessionkit.Event {
	t.Helper()
	select {
	case e := <-l.seen:
		return e
	case <-time.After(within):
		t.Fatal("no lifecycle event before the deadline")
		return sessionkit.Event{}
	}
}

// The Manager reports each change of a session's life once its store
// operation succeeded, with the request's context, naming the session by
// its token's ID.
func TestLifecycleEvents(t *testing.T) {
	mem := memstore.New(memstore.Config{})
	t.Cleanup(func() { mem.Close() })
	obs := newLifecycle()
	m, err := sessionkit.New(mem, sessionkit.Config{Observer: obs, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(webtest.Mux())
	var jar webtest.Jar
	visit := func(mark, path string) {
		r := httptest.NewRequest("GET", path, nil)
		r = r.WithContext(context.WithValue(r.Context(), requestKey{}, mark))
		r.Header.Set("Cookie", jar.Header())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		jar = jar.Update(w)
	}
	token := func() sessionkit.Token {
		for _, v := range jar {
			return sessionkit.Token(v)
		}
		t.Fatal("no session cookie")
		return ""
	}

	visit("r1", "/set?k=a&v=1")
	first := token()
	visit("r2", "/get?k=a") // a load: no change
	visit("r3", "/login?u=alice")
	second := token()
	visit("r4", "/destroy")
	visit("r5", "/set?k=a&v=2")
	third := token()
	if _, err := m.RevokeAll(context.WithValue(context.Background(), requestKey{}, "r6"), "alice"); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		e    sessionkit.Event
		mark string
	}{
		{sessionkit.Event{Change: sessionkit.Created, ID: first.ID()}, "r1"},
		{sessionkit.Event{Change: sessionkit.Renewed, ID: second.ID(), OldID: first.ID()}, "r3"},
		{sessionkit.Event{Change: sessionkit.Destroyed, ID: second.ID(), Principal: "alice"}, "r4"},
		{sessionkit.Event{Change: sessionkit.Created, ID: third.ID()}, "r5"},
		{sessionkit.Event{Change: sessionkit.Revoked, Principal: "alice"}, "r6"},
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.events) != len(want) {
		t.Fatalf("%d lifecycle events, want %d: %+v", len(obs.events), len(want), obs.events)
	}
	for i, w := range want {
		if obs.events[i] != w.e || obs.marks[i] != w.mark {
			t.Errorf("event %d: %+v in context %v, want %+v in %v", i, obs.events[i], obs.marks[i], w.e, w.mark)
		}
	}
	if len(first.ID()) != 64 || first.ID() == first.String() {
		t.Errorf("ID %q: want the 64 hex digits of the token's hash", first.ID())
	}
}

// A session left to idle out is reported Expired under the ID its Created
// event gave it, to every Manager with an Observer on the store.
func TestExpiredEventMatchesCreated(t *testing.T) {
	mem := memstore.New(memstore.Config{CleanupInterval: 10 * time.Millisecond})
	t.Cleanup(func() { mem.Close() })
	obs, other := newLifecycle(), newLifecycle()
	m, err := sessionkit.New(mem, sessionkit.Config{Observer: obs, Logger: discard, IdleTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sessionkit.New(mem, sessionkit.Config{Observer: other, Logger: discard}); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	m.Handler(webtest.Mux()).ServeHTTP(w, httptest.NewRequest("GET", "/set?k=a&v=1", nil))
	created := obs.next(t, 10*time.Second)
	if created.Change != sessionkit.Created {
		t.Fatalf("first event %+v, want Created", created)
	}
	for _, o := range []*lifecycle{obs, other} {
		expired := o.next(t, 10*time.Second)
		if expired.Change != sessionkit.Expired || expired.ID != created.ID || expired.Op != 0 {
			t.Fatalf("event %+v, want Expired of %s", expired, created.ID)
		}
	}
}

// sessionEnds is an Observer that releases what an application keeps per
// session (an upload area, a websocket) when the session ends.
type sessionEnds struct{}

func (sessionEnds) Observe(ctx context.Context, e sessionkit.Event) {
	switch e.Change {
	case sessionkit.Created:
		fmt.Println("created", len(e.ID), "hex digits")
	case sessionkit.Destroyed, sessionkit.Expired:
		fmt.Println("release the resources of a session:", e.Change)
	}
}

// Lifecycle events reach the Observer after their store operation; a
// store that implements ExpiryNotifier (memstore does) adds its expiries.
func Example_lifecycleEvents() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	m, err := sessionkit.New(store, sessionkit.Config{Observer: sessionEnds{}})
	if err != nil {
		panic(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		if r.URL.Path == "/logout" {
			s.Destroy()
			return
		}
		s.Set("cart", []string{"book"})
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	r := httptest.NewRequest("GET", "/logout", nil)
	r.AddCookie(w.Result().Cookies()[0])
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// created 64 hex digits
	// release the resources of a session: destroyed
}
