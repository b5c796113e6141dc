package clusterstore

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
	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/sesstable"
	"github.com/sessionkit/sessionkit/internal/sesstable/sesstabletest"
)

// A new owner's first write overrides every copy a previous owner may
// have left: it jumps the version and carries the whole record.
func TestNewOwnerJumpsVersion(t *testing.T) {
	tb := newTable(time.Minute, 0)
	later := time.Now().Add(time.Hour)
	meta := sessionkit.Meta{IdleDeadline: later, Deadline: later}
	var h [32]byte
	tb.apply(message{kind: kindFull, h: h, version: 5, meta: meta, values: map[string][]byte{"a": []byte("1")}})

	m, err := tb.commit(h, 0, sessionkit.Delta{IdleDeadline: later, Set: map[string][]byte{"b": []byte("2")}})
	if err != nil || m.kind != kindFull || m.version != 5+versionJump || len(m.values) != 2 {
		t.Fatalf("first write after a copy: %+v, %v; want the whole record at version %d", m, err, 5+versionJump)
	}
	m, err = tb.commit(h, 0, sessionkit.Delta{IdleDeadline: later, Set: map[string][]byte{"c": []byte("3")}})
	if err != nil || m.kind != kindDelta || m.version != 6+versionJump {
		t.Fatalf("second write: %+v, %v; want a delta one version on", m, err)
	}

	// A backup refused that write: the state before it comes back, and
	// the next write jumps again.
	tb.undo(m)
	if r, ok := tb.load(h); !ok || r.Values()["c"] != nil || r.Values()["b"] == nil || r.follows() || r.version != 5+versionJump {
		t.Fatalf("after undo: %+v, %v; want the record before the refused write, as a copy", r, ok)
	}
	_, m, err = tb.take(h)
	if err != nil || m.kind != kindDelete || m.version != 5+2*versionJump {
		t.Fatalf("take after undo: %+v, %v; want a tombstone at version %d", m, err, 5+2*versionJump)
	}
	tb.undo(m)
	if r, ok := tb.load(h); !ok || r.Values()["b"] == nil {
		t.Fatalf("refused take: %+v, %v; want the session back", r, ok)
	}

	// Undos of two refused writes, in either order, leave the state
	// before the first.
	for _, order := range [][2]int{{0, 1}, {1, 0}} {
		var ms [2]message
		for i := range ms {
			ms[i], _ = tb.commit(h, 0, sessionkit.Delta{IdleDeadline: later, Set: map[string][]byte{"d": {byte(i)}}})
		}
		tb.undo(ms[order[0]])
		tb.undo(ms[order[1]])
		if r, _ := tb.load(h); r == nil || r.Values()["d"] != nil {
			t.Fatalf("undo in order %v: %+v; want no d", order, r)
		}
	}

	// A refused create leaves nothing behind.
	var h2 [32]byte
	h2[0] = 1
	tb.undo(tb.create(h2, 0, meta, map[string][]byte{"x": []byte("y")}))
	if _, ok := tb.full(h2); ok {
		t.Fatal("a refused create left a record or tombstone")
	}
}

// startCapped starts one node that holds at most max sessions.
func startCapped(t *testing.T, max int) *Store {
	t.Helper()
	var s *Store
	var err error
	for range 5 { // a port free a moment ago may be taken meanwhile
		var port int
		if port, err = proc.FreePort(); err != nil {
			break
		}
		cfg := Config{Name: "n1", Gossip: fmt.Sprintf("127.0.0.1:%d", port), Data: "127.0.0.1:0", Key: testKey, MaxSessions: max, Logger: quiet}
		if s, err = New(context.Background(), cfg); !proc.AddrInUse(err) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	waitMembers(t, []*Store{s}, 1)
	return s
}

func (s *Store) counts() (int, uint64) { return s.table.recs.Len(), s.table.recs.Evicted() }

// TestCapEvictsNothingBelow fills a node's default cap exactly.
func TestCapEvictsNothingBelow(t *testing.T) {
	s := startCapped(t, 0)
	sesstabletest.Fill(t, s, sesstable.DefaultMax, s.counts)
}

// TestFloodKeepsLoggedIn floods a bounded node with anonymous sessions.
func TestFloodKeepsLoggedIn(t *testing.T) {
	sesstabletest.Flood(t, func() (sessionkit.Store, sesstabletest.Counts) {
		s := startCapped(t, sesstabletest.FloodCap)
		return s, s.counts
	})
}

// A backup whose copy was evicted gets the whole record again with the
// owner's next write: the delta finds a gap, and the owner sends the full
// state.
func TestEvictedBackupCopyComesBack(t *testing.T) {
	nodes := startNodes(t, 2, 1, testKey)
	owner, backup := nodes[0], nodes[1]
	tok := createSessions(t, nodes[:1], 1, func(int) []byte { return []byte("a") })[0]
	h := tok.Hash()
	held := func() (*record, bool) { return backup.table.load(h) }
	if err := proc.WaitFor(5*time.Second, func() error {
		if _, ok := held(); !ok {
			return fmt.Errorf("the backup holds no copy")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sh := backup.table.recs.Lock(h) // as an eviction does: no tombstone
	sh.Delete(h)
	sh.Unlock()
	if _, err := owner.Commit(context.Background(), tok, sessionkit.Delta{Set: map[string][]byte{"b": []byte("2")}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := proc.WaitFor(5*time.Second, func() error {
		r, ok := held()
		if !ok || string(r.Values()["i"]) != "a" || string(r.Values()["b"]) != "2" {
			return fmt.Errorf("the backup holds %+v, %v; want the whole record after the write", r, ok)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A logged-in session its owner evicted still has a copy on its backup;
// RevokeAll ("log out everywhere") deletes that copy too, so that it
// cannot come back when the owner fails.
func TestRevokeAllDeletesCopiesOfEvictedSessions(t *testing.T) {
	nodes := startNodes(t, 2, 1, testKey)
	owner, backup := nodes[0], nodes[1]
	ctx := context.Background()
	tok, err := owner.Mint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	meta := sessionkit.Meta{Principal: "alice", Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}
	if tok, err = owner.Create(ctx, tok, sessionkit.Record{Meta: meta}); err != nil {
		t.Fatal(err)
	}
	h := tok.Hash()
	if err := proc.WaitFor(5*time.Second, func() error {
		if _, ok := backup.table.load(h); !ok {
			return fmt.Errorf("the backup holds no copy")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sh := owner.table.recs.Lock(h) // as an eviction does: no tombstone, no message
	sh.Delete(h)
	sh.Unlock()
	if _, err := owner.RevokeAll(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, ok := backup.table.load(h); ok {
		t.Fatal("the backup's copy outlived RevokeAll")
	}
}

// TestBytesPerSession fills one node with the benchmarks' 200-byte session
// (bench/session_test.go: nine keys encoded by sessionkit's codec, and a
// principal of 11 bytes) and reports the Go heap in use after a GC per
// session held, beside bench's TestBytesPerSession for the other stores.
// It takes gigabytes, so it runs only when SESSIONKIT_BYTES is set, to the
// session counts to measure (default "1000000,1500000"):
//
//	SESSIONKIT_BYTES=1 go test -run TestBytesPerSession -v -timeout 30m .
func TestBytesPerSession(t *testing.T) {
	env := os.Getenv("SESSIONKIT_BYTES")
	if env == "" {
		t.Skip("set SESSIONKIT_BYTES=1 (or session counts, e.g. 1000000,1500000) to measure")
	}
	counts := []int{1_000_000, 1_500_000}
	if env != "1" {
		counts = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("SESSIONKIT_BYTES=%q: want 1 or session counts", env)
			}
			counts = append(counts, n)
		}
	}
	values := map[string][]byte{}
	for k, v := range map[string]any{
		"user_id": 48213, "csrf": "q3Zt8Xr9LmP0vW2yKcD5nB7hJ4fG6sA1eR8uI0oT3pQ", "name": "Alice Martin",
		"cart_id": "c_7f3a9b2e", "flash": "Your order has been placed.",
		"last_seen": time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), "locale": "en-GB", "theme": "dark",
		"csrf_exp": time.Date(2026, 3, 14, 17, 9, 26, 0, time.UTC),
	} {
		b, err := sessionkit.BinaryCodec{}.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		values[k] = b
	}
	heap := func() (inUse, live uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.HeapAlloc
	}
	ctx := context.Background()
	var out strings.Builder
	fmt.Fprintf(&out, "\n| store | sessions | bytes per session (heap in use) | live heap (HeapAlloc) per session | session data |\n|---|---|---|---|---|\n")
	for _, n := range counts {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := startCapped(t, -1)
			u0, l0 := heap()
			for i := range n {
				now := time.Now()
				meta := sessionkit.Meta{Principal: fmt.Sprintf("u%010d", i), Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour), IdleTimeout: time.Hour}
				if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta, Values: values}); err != nil {
					t.Fatal(err)
				}
			}
			u1, l1 := heap()
			held, data := s.table.stats()
			if held != n {
				t.Fatalf("the node holds %d sessions, want %d", held, n)
			}
			inUse, live := float64(int64(u1)-int64(u0))/float64(n), float64(int64(l1)-int64(l0))/float64(n)
			fmt.Fprintf(&out, "| clusterstore node | %d | %.0f | %.0f | %d |\n", n, inUse, live, data/n)
			t.Logf("%.0f bytes per session", inUse)
		})
	}
	t.Log(out.String())
}
