// Package sesstabletest checks the cap of a store that keeps its sessions
// in a sesstable.Table (memstore, a cluster store node).
package sesstabletest

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Counts reports how many sessions a store holds and how many its cap has
// evicted.
type Counts func() (held int, evicted uint64)

// Fill creates n sessions in s, whose cap is n: not one may be evicted.
// One more session evicts exactly one.
func Fill(t *testing.T, s sessionkit.Store, n int, counts Counts) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	rec := sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}
	for range n {
		if _, err := s.Create(ctx, sessionkit.NewToken(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if held, evicted := counts(); held != n || evicted != 0 {
		t.Fatalf("%d creates against a cap of %d: %d sessions held, %d evicted", n, n, held, evicted)
	}
	if _, err := s.Create(ctx, sessionkit.NewToken(), rec); err != nil {
		t.Fatal(err)
	}
	if held, evicted := counts(); held != n || evicted != 1 {
		t.Fatalf("one create past the cap: %d sessions held, %d evicted; want %d and 1", held, evicted, n)
	}
}

// The flood.
const (
	// FloodCap is the cap of the store Flood opens.
	FloodCap  = 50_000
	users     = 10_000
	anonymous = 200_000
	value     = 1024
	// A session holding 1 KiB costs about 1.8 KiB of heap (its value,
	// its values map, its entry, its slot in the table). The bound, 2.5
	// KiB a session held, leaves room for the maps' spare capacity and a
	// store's own structures; the flood unbounded would take about 7
	// times as much.
	heapBound = FloodCap * 2560
)

// Flood opens a store with a cap of FloodCap and creates in it 10,000
// logged-in sessions, then 200,000 anonymous ones, each holding 1 KiB:
// the store must hold FloodCap sessions, every logged-in one among them,
// and its heap must stay under 2.5 KiB a session held.
func Flood(t *testing.T, open func() (sessionkit.Store, Counts)) {
	t.Helper()
	before := liveHeap()
	s, counts := open()
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
	var logged []sessionkit.Token
	for i := range users + anonymous {
		m := meta
		if i < users {
			m.Principal = fmt.Sprint("user", i)
		}
		tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m, Values: map[string][]byte{"v": make([]byte, value)}})
		if err != nil {
			t.Fatal(err)
		}
		if i < users {
			logged = append(logged, tok)
		}
	}
	if held, evicted := counts(); held != FloodCap || evicted != users+anonymous-FloodCap {
		t.Fatalf("%d creates against a cap of %d: %d held, %d evicted", users+anonymous, FloodCap, held, evicted)
	}
	for _, tok := range logged {
		if _, found, err := s.Load(ctx, tok); !found || err != nil {
			t.Fatalf("a logged-in session was evicted while anonymous ones remained (%v)", err)
		}
	}
	grown := liveHeap() - before
	if grown > heapBound {
		t.Fatalf("the heap grew by %d MiB holding %d sessions, bound %d MiB", grown>>20, FloodCap, heapBound>>20)
	}
	t.Logf("the heap grew by %.1f MiB holding %d sessions (%d bytes a session)", float64(grown)/(1<<20), FloodCap, grown/FloodCap)
	runtime.KeepAlive(s)
}

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
