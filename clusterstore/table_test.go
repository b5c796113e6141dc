package clusterstore

import (
	"context"
	"fmt"
	"strconv"
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

	m, err := tb.commit(h, 0, sessionkit.Delta{IdleDeadline: later, Set: []sessionkit.Entry{{Key: "b", Value: []byte("2")}}})
	if err != nil || m.kind != kindFull || m.version != 5+versionJump || len(m.values) != 2 {
		t.Fatalf("first write after a copy: %+v, %v; want the whole record at version %d", m, err, 5+versionJump)
	}
	m, err = tb.commit(h, 0, sessionkit.Delta{IdleDeadline: later, Set: []sessionkit.Entry{{Key: "c", Value: []byte("3")}}})
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
			ms[i], _ = tb.commit(h, 0, sessionkit.Delta{IdleDeadline: later, Set: []sessionkit.Entry{{Key: "d", Value: []byte{byte(i)}}}})
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
func startCapped(t testing.TB, max int) *Store {
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
	if _, err := owner.Commit(context.Background(), tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "b", Value: []byte("2")}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
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

// BenchmarkBytesPerSession fills one node with the benchmarks' 200-byte
// session (sesstabletest.Session: nine keys encoded by sessionkit's codec,
// and a principal of 11 bytes) and reports the Go heap in use after a GC
// per session held, beside bench's BenchmarkBytesPerSession for the other
// stores. It fills 1,000,000 and 1,500,000 sessions (SESSIONKIT_BYTES
// for other counts), once each whatever b.N, in gigabytes:
//
//	go test -run '^$' -bench BytesPerSession -benchtime 1x -timeout 30m .
func BenchmarkBytesPerSession(b *testing.B) {
	values := map[string][]byte{}
	for k, v := range sesstabletest.Session() {
		enc, err := sessionkit.BinaryCodec{}.Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		values[k] = enc
	}
	ctx := context.Background()
	for _, n := range sesstabletest.SessionCounts(b) {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := startCapped(b, -1)
			inUse, live := sesstabletest.HeapPerSession(n, func() {
				for i := range n {
					now := time.Now()
					meta := sessionkit.Meta{Principal: sesstabletest.Principal(i), Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour), IdleTimeout: time.Hour}
					if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta, Values: values}); err != nil {
						b.Fatal(err)
					}
				}
			})
			held, data := s.table.stats()
			if held != n {
				b.Fatalf("the node holds %d sessions, want %d", held, n)
			}
			for b.Loop() {
			}
			b.ReportMetric(inUse, "heap-B/session")
			b.ReportMetric(live, "live-B/session")
			b.ReportMetric(float64(data/n), "data-B/session")
		})
	}
}
