package memstore

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// TestCapEvictsNothingBelow fills the default bound exactly: not one
// session may be evicted (the bound used to be split over the shards, and
// a full shard evicted: 1,000,000 creates left 997,245 sessions).
func TestCapEvictsNothingBelow(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	rec := sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}
	const n = 1_000_000
	for range n {
		if _, err := s.Create(ctx, sessionkit.NewToken(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Sessions != n || st.Evicted != 0 {
		t.Fatalf("%d creates against a bound of %d: %d sessions held, %d evicted", n, n, st.Sessions, st.Evicted)
	}
	if _, err := s.Create(ctx, sessionkit.NewToken(), rec); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sessions != n || st.Evicted != 1 {
		t.Fatalf("one create past the bound: %d sessions held, %d evicted; want %d and 1", st.Sessions, st.Evicted, n)
	}
}

// TestFloodKeepsLoggedIn floods a bounded store with anonymous sessions:
// the store holds its bound, every logged-in session survives, and the
// heap stays within what the bound allows.
func TestFloodKeepsLoggedIn(t *testing.T) {
	const (
		max       = 50_000
		users     = 10_000
		anonymous = 200_000
		value     = 1024
	)
	before := heap()
	s := New(Config{MaxSessions: max})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
	var logged []sessionkit.Token
	for i := range users {
		m := meta
		m.Principal = fmt.Sprint("user", i)
		tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m, Values: map[string][]byte{"v": make([]byte, value)}})
		if err != nil {
			t.Fatal(err)
		}
		logged = append(logged, tok)
	}
	for range anonymous {
		if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta, Values: map[string][]byte{"v": make([]byte, value)}}); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Sessions != max || st.Evicted != users+anonymous-max {
		t.Fatalf("%d creates against a bound of %d: %d held, %d evicted", users+anonymous, max, st.Sessions, st.Evicted)
	}
	for _, tok := range logged {
		if _, found, _ := s.Load(ctx, tok); !found {
			t.Fatal("a logged-in session was evicted while anonymous ones remained")
		}
	}
	// A session holding 1 KiB costs about 1.8 KiB of heap (its value,
	// its values map, its entry, its slot in the table). The bound, 2.5
	// KiB a session held, leaves room for the maps' spare capacity; the
	// flood unbounded would take about 7 times as much.
	const bound = max * 2560
	if grown := heap() - before; grown > bound {
		t.Fatalf("the heap grew by %d MiB holding %d sessions, bound %d MiB", grown>>20, st.Sessions, bound>>20)
	} else {
		t.Logf("the heap grew by %.1f MiB holding %d sessions (%d bytes a session)", float64(grown)/(1<<20), st.Sessions, grown/max)
	}
	runtime.KeepAlive(s)
}

// heap returns the bytes of live heap objects, after a collection.
func heap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
