package sessionkit_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/webtest"
	"github.com/sessionkit/sessionkit/memstore"
)

type spanKey struct{}

// spans is an OpStarter that marks each operation's context with the
// operation's name and records the operations it saw end with that mark.
type spans struct {
	mu    sync.Mutex
	ended []string
}

func (s *spans) StartOp(ctx context.Context, op sessionkit.Op) context.Context {
	return context.WithValue(ctx, spanKey{}, op.String())
}

func (s *spans) Observe(ctx context.Context, e sessionkit.Event) {
	if e.Op == 0 {
		return // a lifecycle event: no operation started
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, _ := ctx.Value(spanKey{}).(string); name == e.Op.String() {
		s.ended = append(s.ended, name)
	}
}

// marked is a store that records the mark on the contexts it is called with.
type marked struct {
	sessionkit.Store
	mu   sync.Mutex
	seen []string
}

func (m *marked) saw(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name, _ := ctx.Value(spanKey{}).(string)
	m.seen = append(m.seen, name)
}

func (m *marked) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	m.saw(ctx)
	return m.Store.Load(ctx, t)
}

func (m *marked) Create(ctx context.Context, t sessionkit.Token, r sessionkit.Record) (sessionkit.Token, error) {
	m.saw(ctx)
	return m.Store.Create(ctx, t, r)
}

func (m *marked) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	m.saw(ctx)
	return m.Store.Commit(ctx, t, d)
}

// An OpStarter's context reaches the store and then its own Observe, so a
// tracer can start a span before the store call and end it after.
func TestOpStarterContextReachesStoreAndObserve(t *testing.T) {
	mem := memstore.New(memstore.Config{})
	t.Cleanup(func() { mem.Close() })
	store := &marked{Store: mem}
	obs := &spans{}
	m, err := sessionkit.New(store, sessionkit.Config{Observer: obs, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(webtest.Mux())
	var jar webtest.Jar
	for _, v := range []string{"1", "2"} { // create; then load and commit
		r := httptest.NewRequest("GET", "/set?k=a&v="+v, nil)
		r.Header.Set("Cookie", jar.Header())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		jar = jar.Update(w)
	}
	want := []string{"create", "load", "commit"}
	if !slices.Equal(store.seen, want) {
		t.Errorf("the store was called with contexts marked %q, want %q", store.seen, want)
	}
	if !slices.Equal(obs.ended, want) {
		t.Errorf("Observe saw its own mark for %q, want %q", obs.ended, want)
	}
}
