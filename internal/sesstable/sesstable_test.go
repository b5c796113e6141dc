package sesstable

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

type entry struct{ meta sessionkit.Meta }

func (e *entry) Principal() string          { return e.meta.Principal }
func (e *entry) End() time.Time             { return e.meta.IdleDeadline }
func (e *entry) Expired(now time.Time) bool { return e.meta.Expired(now) }
func (e *entry) Size() int                  { return len(e.meta.Principal) }

type table = Table[*entry, struct{}]

// key returns a key filed in shard.
func key(shard, i int) [32]byte {
	var h [32]byte
	h[0] = byte(shard)
	h[1], h[2], h[3] = byte(i), byte(i>>8), byte(i>>16)
	return h
}

func newEntry(principal string, end time.Time) *entry {
	return &entry{meta: sessionkit.Meta{Principal: principal, IdleDeadline: end, Deadline: end}}
}

func put(t *table, h [32]byte, e *entry) {
	sh := t.Lock(h)
	sh.Put(h, e)
	sh.Unlock()
}

func has(t *table, h [32]byte) bool {
	sh := t.Lock(h)
	defer sh.Unlock()
	_, ok := sh.Get(h)
	return ok
}

// The cap counts the whole table: entries filed in one shard only fill it
// to the cap, not to a shard's share of it.
func TestCapCountsTheWholeTable(t *testing.T) {
	const max = 1000
	tb := New[*entry, struct{}](max, nil)
	end := time.Now().Add(time.Hour)
	for i := range max {
		put(tb, key(7, i), newEntry("", end))
	}
	if tb.Len() != max || tb.Evicted() != 0 {
		t.Fatalf("%d puts in one shard against a cap of %d: %d held, %d evicted", max, max, tb.Len(), tb.Evicted())
	}
	put(tb, key(7, 0), newEntry("", end)) // a replacement adds nothing
	put(tb, key(8, 0), newEntry("", end))
	if tb.Len() != max || tb.Evicted() != 1 {
		t.Fatalf("one put past the cap: %d held, %d evicted; want %d and 1", tb.Len(), tb.Evicted(), max)
	}
}

// A logged-in entry put in a shard that holds only logged-in entries
// evicts an anonymous entry of another shard, the one closest to its end
// among those sampled; with no anonymous entry left, a logged-in one goes.
func TestEvictsAnonymousOfAnyShard(t *testing.T) {
	const max = 100
	tb := New[*entry, struct{}](max, nil)
	now := time.Now()
	for i := range max - 3 {
		put(tb, key(1, i), newEntry(fmt.Sprint("user", i), now.Add(time.Minute)))
	}
	for i := range 3 {
		put(tb, key(2, i), newEntry("", now.Add(time.Duration(i+1)*time.Hour)))
	}
	put(tb, key(1, max), newEntry("late", now.Add(time.Minute)))
	if has(tb, key(2, 0)) || !has(tb, key(2, 1)) || !has(tb, key(2, 2)) || !has(tb, key(1, max)) {
		t.Fatal("want the anonymous entry closest to its end evicted, and only it")
	}
	put(tb, key(1, max+1), newEntry("later", now.Add(time.Minute)))
	put(tb, key(1, max+2), newEntry("latest", now.Add(time.Minute)))
	for i := range max - 3 {
		if !has(tb, key(1, i)) {
			t.Fatalf("logged-in entry %d evicted while an anonymous one remained", i)
		}
	}
	put(tb, key(3, 0), newEntry("", now.Add(time.Hour))) // evicts itself: the only anonymous entry
	if has(tb, key(3, 0)) || tb.Len() != max {
		t.Fatalf("an anonymous entry put into a table of logged-in ones stayed (%d held)", tb.Len())
	}
	put(tb, key(4, 0), newEntry("one more", now.Add(time.Hour)))
	if tb.Len() != max || tb.Evicted() != 5 {
		t.Fatalf("with no anonymous entry: %d held, %d evicted; want %d and 5", tb.Len(), tb.Evicted(), max)
	}
}

// Concurrent puts keep the count exact: every put past the cap evicts
// one entry, no more.
func TestConcurrentPuts(t *testing.T) {
	const max, writers, each = 500, 8, 1000
	tb := New[*entry, struct{}](max, nil)
	end := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p := ""
				if i%20 == 0 {
					p = fmt.Sprint("user", w, i)
				}
				h := key(i%shardCount, w<<12|i)
				put(tb, h, newEntry(p, end))
			}
		})
	}
	wg.Wait()
	if tb.Len() != max || tb.Evicted() != writers*each-max {
		t.Fatalf("%d puts against a cap of %d: %d held, %d evicted", writers*each, max, tb.Len(), tb.Evicted())
	}
	held, logged := 0, 0
	for sh := range tb.Shards() {
		for _, e := range sh.All() {
			held++
			if e.meta.Principal != "" {
				logged++
			}
		}
	}
	if held != max || logged != writers*each/20 {
		t.Fatalf("%d entries held, %d logged in; want %d and all %d", held, logged, max, writers*each/20)
	}
}

func TestExpiredAndPrincipals(t *testing.T) {
	var gone [][32]byte
	tb := New(-1, func(sh *Shard[*entry, struct{}], h [32]byte, e *entry, now time.Time) { gone = append(gone, h) })
	now := time.Now()
	put(tb, key(1, 1), newEntry("ann", now.Add(-time.Second)))
	put(tb, key(2, 1), newEntry("ann", now.Add(time.Hour)))
	put(tb, key(3, 1), newEntry("", now.Add(-time.Second)))
	if tb.Bytes() != 6 {
		t.Fatalf("bytes = %d, want 6", tb.Bytes())
	}
	sh := tb.Lock(key(1, 1))
	if _, ok := sh.Live(key(1, 1), now); ok {
		t.Fatal("Live returned an expired entry")
	}
	sh.Unlock()
	for sh := range tb.Shards() {
		sh.RemoveExpired(now)
	}
	if len(gone) != 2 || gone[0] != key(1, 1) || gone[1] != key(3, 1) || tb.Len() != 1 || tb.Bytes() != 3 {
		t.Fatalf("expired %x, %d held of %d bytes; want the two expired gone", gone, tb.Len(), tb.Bytes())
	}
	var of [][32]byte
	for sh := range tb.Shards() {
		for h := range sh.Principal("ann") {
			of = append(of, h)
			sh.Delete(h)
		}
	}
	if len(of) != 1 || of[0] != key(2, 1) || tb.Len() != 0 {
		t.Fatalf("ann's entries: %x; want only the live one, deleted", of)
	}
}

// A Put that replaces an entry moves it between the principals' indexes
// and the anonymous count when its principal changes (a login).
func TestPutMovesPrincipal(t *testing.T) {
	tb := New[*entry, struct{}](-1, nil)
	end := time.Now().Add(time.Hour)
	h := key(5, 1)
	of := func(p string) (n int) {
		for sh := range tb.Shards() {
			for range sh.Principal(p) {
				n++
			}
		}
		return n
	}
	put(tb, h, newEntry("", end))
	put(tb, h, newEntry("", end))
	if tb.anonymous.Load() != 1 || tb.Len() != 1 {
		t.Fatalf("anonymous %d, held %d; want 1 and 1", tb.anonymous.Load(), tb.Len())
	}
	put(tb, h, newEntry("ann", end))
	if tb.anonymous.Load() != 0 || of("ann") != 1 || tb.Bytes() != 3 {
		t.Fatalf("after a login: anonymous %d, ann's %d, bytes %d", tb.anonymous.Load(), of("ann"), tb.Bytes())
	}
	put(tb, h, newEntry("bob", end))
	if of("ann") != 0 || of("bob") != 1 || tb.Len() != 1 {
		t.Fatalf("after a change of principal: ann's %d, bob's %d", of("ann"), of("bob"))
	}
	sh := tb.Lock(h)
	sh.Delete(h)
	sh.Unlock()
	if of("bob") != 0 || tb.Len() != 0 || tb.Bytes() != 0 {
		t.Fatalf("after delete: bob's %d, held %d, bytes %d", of("bob"), tb.Len(), tb.Bytes())
	}
}

// A new anonymous entry is not evicted on the spot, even in a shard that
// holds no other: an anonymous entry closer to its end goes instead (a new
// session ends last). A pre-login session, or the anonymous session a
// login renews, must survive its own creation.
func TestNewAnonymousEntrySurvives(t *testing.T) {
	const max = 100
	tb := New[*entry, struct{}](max, nil)
	now := time.Now()
	for i := range max - 10 {
		put(tb, key(1, i), newEntry(fmt.Sprint("user", i), now.Add(time.Hour)))
	}
	for i := range 10 {
		put(tb, key(2, i), newEntry("", now.Add(time.Minute)))
	}
	for i := range 10 {
		put(tb, key(3, i), newEntry("", now.Add(time.Hour+time.Duration(i)*time.Second)))
		if !has(tb, key(3, i)) {
			t.Fatalf("new anonymous entry %d evicted while older anonymous ones remained", i)
		}
	}
	if tb.Len() != max || tb.Evicted() != 10 {
		t.Fatalf("%d held, %d evicted; want %d and 10", tb.Len(), tb.Evicted(), max)
	}
	for i := range max - 10 {
		if !has(tb, key(1, i)) {
			t.Fatalf("logged-in entry %d evicted", i)
		}
	}
}

// In a shard full of logged-in entries with one older anonymous entry, a
// new anonymous entry evicts that older one, wherever a scan meets them;
// and when each of two shards holds one anonymous entry, the new one's
// shard is not taken for the richer.
func TestNewAnonymousEntryAmongLoggedIn(t *testing.T) {
	const max = 2000
	now := time.Now()
	for round := range 20 {
		tb := New[*entry, struct{}](max, nil)
		for i := range max - 1 {
			put(tb, key(1, i), newEntry(fmt.Sprint("user", i), now.Add(time.Hour)))
		}
		put(tb, key(1, max), newEntry("", now.Add(time.Minute)))
		put(tb, key(1, max+1), newEntry("", now.Add(time.Hour)))
		if !has(tb, key(1, max+1)) || has(tb, key(1, max)) {
			t.Fatalf("round %d: the new anonymous entry was evicted, or the old one kept", round)
		}
		put(tb, key(2, 0), newEntry("", now.Add(2*time.Hour)))
		if !has(tb, key(2, 0)) || has(tb, key(1, max+1)) || tb.Len() != max {
			t.Fatalf("round %d: with one anonymous entry in each of two shards, the new one was evicted", round)
		}
	}
}
