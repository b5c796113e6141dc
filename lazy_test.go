package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// countingStore is a memstore whose LoadLazy counts how often the Manager
// reads the values it hands out: Value may scan the whole record, and so
// may each call to All.
type countingStore struct {
	*memstore.Store
	scans atomic.Int64
}

func (c *countingStore) LoadLazy(ctx context.Context, t sessionkit.Token) (sessionkit.Meta, sessionkit.Values, bool, error) {
	meta, values, found, err := c.Store.LoadLazy(ctx, t)
	if values != nil {
		values = countingValues{values, &c.scans}
	}
	return meta, values, found, err
}

// LazyStore returns c, which overrides LoadLazy, so the Manager uses it.
func (c *countingStore) LazyStore() sessionkit.Store { return c }

type countingValues struct {
	sessionkit.Values
	scans *atomic.Int64
}

func (v countingValues) Value(key string) ([]byte, bool) {
	v.scans.Add(1)
	return v.Values.Value(key)
}

func (v countingValues) All(yield func(string, []byte) bool) {
	v.scans.Add(1)
	v.Values.All(yield)
}

// A session of a few thousand keys lists them, clears them and checks its
// size on commit reading its loaded values a few times, not once per key.
func TestManyKeysReadInOnePass(t *testing.T) {
	const n = 3000
	ctx := context.Background()
	st := &countingStore{Store: memstore.New(memstore.Config{})}
	t.Cleanup(func() { st.Close() })
	m0, err := sessionkit.New(st.Store, sessionkit.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m0.Load(ctx, "")
	for i := range n {
		if err := s.Set(fmt.Sprint("key", i), i); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := s.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, values, found, err := st.Store.LoadLazy(ctx, sessionkit.Token(tok))
	if err != nil || !found {
		t.Fatalf("LoadLazy: found=%v, %v", found, err)
	}
	// Setting a key again to its value leaves the size alone but makes its
	// upper bound exceed MaxSize, so Commit adds up the merged values.
	m, err := sessionkit.New(st, sessionkit.Config{Logger: discard, MaxSize: values.Size() + 4})
	if err != nil {
		t.Fatal(err)
	}
	load := func() *sessionkit.Session {
		t.Helper()
		s, err := m.Load(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const most = 3 // reads of the loaded values allowed for one call
	check := func(what string) {
		t.Helper()
		switch got := st.scans.Swap(0); {
		case got == 0:
			t.Errorf("%s never read the values LoadLazy handed out", what)
		case got > most:
			t.Errorf("%s read the loaded values %d times; want at most %d", what, got, most)
		}
	}

	s = load()
	st.scans.Store(0)
	if got := len(s.Keys()); got != n {
		t.Fatalf("Keys: %d keys, want %d", got, n)
	}
	check("Keys")

	s = load()
	if err := s.Set("key7", 7); err != nil {
		t.Fatal(err)
	}
	st.scans.Store(0)
	if _, err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	check("Commit")

	s = load()
	if err := s.Set("new", 1); err != nil { // a key only this request has
		t.Fatal(err)
	}
	st.scans.Store(0)
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	check("Clear")
	if keys := s.Keys(); len(keys) != 0 {
		t.Fatalf("after Clear, Keys = %d keys", len(keys))
	}
}

// refusingStore embeds a memstore and overrides Load alone, as a wrapper
// that audits or checks loads would.
type refusingStore struct{ *memstore.Store }

var errRefused = errors.New("refused")

func (refusingStore) Load(context.Context, sessionkit.Token) (sessionkit.Record, bool, error) {
	return sessionkit.Record{}, false, errRefused
}

// A wrapper that overrides Load but inherits LoadLazy is read through its
// Load: the inherited LoadLazy must not answer in its place.
func TestWrapperOverridingLoadIsLoadedThroughLoad(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Config{})
	t.Cleanup(func() { st.Close() })
	m0, err := sessionkit.New(st, sessionkit.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m0.Load(ctx, "")
	if err := s.Set("a", 1); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sessionkit.Lazy(st); !ok {
		t.Fatal("Lazy(memstore) = false; want the memstore itself")
	}
	if _, ok := sessionkit.Lazy(refusingStore{st}); ok {
		t.Fatal("Lazy(wrapper that inherits LoadLazy) = true")
	}
	m, err := sessionkit.New(refusingStore{st}, sessionkit.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	s, err = m.Load(ctx, tok)
	if err == nil {
		err = s.Err()
	}
	if !errors.Is(err, errRefused) {
		t.Fatalf("loading through the wrapper: err = %v; want its Load's %v", err, errRefused)
	}
}

// BenchmarkKeysAndValues reads a loaded session as a page showing it does:
// its keys, then each value.
func BenchmarkKeysAndValues(b *testing.B) {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	m, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, _ := m.Load(ctx, "")
	for k, v := range map[string]any{"user": "u1", "cart": []string{"book", "book", "book"}, "orders": 1, "flash": "Order placed: 4 items."} {
		s.Set(k, v)
	}
	tok, err := s.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := m.Load(ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range s.Keys() {
			if _, ok := s.Get(k); !ok {
				b.Fatal(k)
			}
		}
	}
}

// TestKeysAgreeWithGet: whatever a request sets, deletes, updates and
// clears over the values it loaded, Keys lists exactly the keys Get finds,
// for a store read in place and for one that loads a map.
func TestKeysAgreeWithGet(t *testing.T) {
	for _, lazy := range []bool{true, false} {
		t.Run(fmt.Sprint("lazy=", lazy), func(t *testing.T) {
			mem := memstore.New(memstore.Config{})
			defer mem.Close()
			var store sessionkit.Store = mem
			if !lazy {
				store = struct{ sessionkit.Store }{mem} // hides LoadLazy
			}
			m, err := sessionkit.New(store, sessionkit.Config{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			names := []string{"a", "b", "c", "d", "e"}
			rng := rand.New(rand.NewPCG(1, 2))
			for round := range 200 {
				s, _ := m.Load(ctx, "")
				for _, k := range names[:3] {
					s.Set(k, k)
				}
				tok, err := s.Commit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				s, _ = m.Load(ctx, tok)
				var ops []string
				for range 6 {
					k := names[rng.IntN(len(names))]
					switch op := rng.IntN(7); op {
					case 0, 1:
						s.Set(k, round)
					case 2, 3:
						s.Delete(k)
					case 4:
						s.Update(k, func(any, bool) (any, error) { return round, nil })
					case 5:
						s.Update(k, func(any, bool) (any, error) { return nil, nil })
					case 6:
						s.Clear()
						k = "*"
					}
					ops = append(ops, k)
					var want []string
					for _, n := range names {
						if _, ok := s.Get(n); ok {
							want = append(want, n)
						}
					}
					if got := s.Keys(); !slices.Equal(got, want) || (got == nil) != (want == nil) {
						t.Fatalf("round %d, after %v: Keys %v, Get finds %v", round, ops, got, want)
					}
				}
			}
		})
	}
}
