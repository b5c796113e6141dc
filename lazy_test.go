package sessionkit_test

import (
	"context"
	"fmt"
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
		if got := st.scans.Swap(0); got > most {
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
