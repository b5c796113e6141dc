// Package sesstabletest checks the cap of a store that keeps its sessions
// in a sesstable.Table (memstore, a cluster store node), and measures the
// heap one session takes in such a store beside the benchmarks' peers.
package sesstabletest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// Session is the benchmarks' 200-byte session: nine keys of a logged-in
// user's session (user id, CSRF token, name, cart id, a flash message,
// last seen, locale, theme, CSRF expiry), before encoding.
func Session() map[string]any {
	return map[string]any{
		"user_id":   48213,
		"csrf":      "q3Zt8Xr9LmP0vW2yKcD5nB7hJ4fG6sA1eR8uI0oT3pQ",
		"name":      "Alice Martin",
		"cart_id":   "c_7f3a9b2e",
		"flash":     "Your order has been placed.",
		"last_seen": time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
		"locale":    "en-GB",
		"theme":     "dark",
		"csrf_exp":  time.Date(2026, 3, 14, 17, 9, 26, 0, time.UTC),
	}
}

// Principal is session i's principal: 11 bytes whatever i.
func Principal(i int) string { return fmt.Sprintf("u%010d", i) }

// SessionCounts are the numbers of sessions a BytesPerSession benchmark
// fills: SESSIONKIT_BYTES, comma-separated, or 1,000,000 and 1,500,000.
func SessionCounts(tb testing.TB) []int {
	env := os.Getenv("SESSIONKIT_BYTES")
	if env == "" {
		return []int{1_000_000, 1_500_000}
	}
	var counts []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			tb.Fatalf("SESSIONKIT_BYTES=%q: want session counts, such as 1000000,1500000", env)
		}
		counts = append(counts, n)
	}
	return counts
}

// HeapPerSession returns the Go heap in use, and the live heap, that fill
// leaves behind after a full GC, per one of its n sessions.
func HeapPerSession(n int, fill func()) (inUse, live float64) {
	heap := func() (inUse, live uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.HeapAlloc
	}
	u0, l0 := heap()
	fill()
	u1, l1 := heap()
	return float64(int64(u1)-int64(u0)) / float64(n), float64(int64(l1)-int64(l0)) / float64(n)
}
