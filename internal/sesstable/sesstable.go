// Package sesstable is the in-memory session table that memstore and the
// cluster store keep their sessions in: entries filed under the SHA-256 of
// their token in sharded maps, indexed by principal, and bounded by one cap
// on the whole table.
//
// # The cap
//
// The cap counts every entry of the table, whatever its shard. A Put that
// adds an entry to a table that already holds the cap evicts one entry,
// once its shard is unlocked; a table under its cap evicts nothing. An
// eviction never takes a logged-in entry (non-empty principal) while any
// shard holds an anonymous one: it takes, among a few anonymous entries it
// samples, the one closest to its end (idle deadline or deadline), looking
// first in the shard of the Put, then in the shard that holds the most
// anonymous entries; with no anonymous entry left, it takes the logged-in
// entry closest to its end among a few sampled, after checking, with that
// entry's shard locked, that the table holds no anonymous entry. A flood
// of anonymous clients therefore replaces anonymous sessions and leaves
// logged-in ones alone.
//
// The table counts its entries, and its anonymous entries, in two atomic
// integers; nothing else is shared between shards, so operations on
// different shards never wait for each other. Entries that have expired
// but are not yet removed count: the owner of a table removes them on
// access (Live) and in sweeps (RemoveExpired).
//
// # Locking
//
// Lock returns a key's shard locked; the Shard methods run with it held,
// and its Unlock releases it (and evicts what its Puts asked for, after
// releasing it). Never hold two shards at once.
package sesstable

import (
	"hash/maphash"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit"
)

// DefaultMax is the cap of a table given none: a million sessions.
const DefaultMax = 1_000_000

// Entry is a session as a table holds it. Its principal and size must not
// change while it is stored (a write Puts a new entry): the table indexes
// the one and sums the other. Compact is the entry of memstore and, within
// the cluster store's record, of the cluster store.
type Entry interface {
	// Principal returns the session's principal, "" when anonymous.
	Principal() string
	// End returns when the session expires unless used again: the
	// earlier of its idle deadline and its deadline.
	End() time.Time
	// Expired reports whether the session has expired at now: whether
	// now is not before End.
	Expired(now time.Time) bool
	// Size is how many bytes the entry counts for in Bytes.
	Size() int
}

// Size is the size of a session in bytes, as its entry's Size should
// count it: its principal, and its values' keys and bytes.
func Size(meta *sessionkit.Meta, values map[string][]byte) int {
	n := len(meta.Principal)
	for k, v := range values {
		n += len(k) + len(v)
	}
	return n
}

const (
	shardCount = 64
	// samples is how many candidates an eviction compares.
	samples = 5
	// probe is how many entries an eviction looks at in the shard of the
	// Put before it looks for a shard richer in anonymous entries.
	probe = 64
)

// Table is a sharded, principal-indexed session table with a cap. E is the
// entry type, held by value in the shards' maps (a small struct such as
// Compact, or a pointer); X is per-shard state of the table's owner,
// guarded by the shard's lock (struct{} when it needs none). Its methods
// are safe for concurrent use.
type Table[E Entry, X any] struct {
	shards    [shardCount]Shard[E, X]
	max       int64 // < 0: no cap
	count     atomic.Int64
	anonymous atomic.Int64
	evicted   atomic.Uint64
	seed      maphash.Seed
	expired   func(sh *Shard[E, X], h [32]byte, e E, now time.Time)
}

// Shard holds the entries whose key starts with one byte value modulo the
// shard count.
type Shard[E Entry, X any] struct {
	mu         sync.Mutex
	m          map[[32]byte]E
	principals map[uint64]keys // by the principal's hash
	anonymous  atomic.Int64    // written under mu, read without it by evictions
	bytes      int
	// over is how many Puts since Lock took the table past its cap;
	// fresh is the last one's key, when its entry is anonymous.
	over      int
	fresh     [32]byte
	freshAnon bool
	t         *Table[E, X]
	i         int // index in t.shards
	// Extra is the owner's state for this shard, guarded by the shard's
	// lock.
	Extra X
}

// New returns an empty table. max is the cap: 0 means DefaultMax, a
// negative value no cap. expired, if not nil, runs for every entry that
// Live or RemoveExpired deletes because it expired, with its shard
// locked.
func New[E Entry, X any](max int, expired func(sh *Shard[E, X], h [32]byte, e E, now time.Time)) *Table[E, X] {
	if max == 0 {
		max = DefaultMax
	}
	t := &Table[E, X]{max: int64(max), expired: expired, seed: maphash.MakeSeed()}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.m = map[[32]byte]E{}
		sh.principals = map[uint64]keys{}
		sh.t, sh.i = t, i
	}
	return t
}

// Lock locks the shard that files h and returns it.
func (t *Table[E, X]) Lock(h [32]byte) *Shard[E, X] {
	sh := &t.shards[h[0]%shardCount]
	sh.mu.Lock()
	return sh
}

// Shards returns every shard in turn, locked for the length of one
// iteration.
func (t *Table[E, X]) Shards() iter.Seq[*Shard[E, X]] {
	return func(yield func(*Shard[E, X]) bool) {
		for i := range t.shards {
			sh := &t.shards[i]
			sh.mu.Lock()
			more := func() bool {
				defer sh.Unlock()
				return yield(sh)
			}()
			if !more {
				return
			}
		}
	}
}

// Len returns the number of entries held.
func (t *Table[E, X]) Len() int { return int(t.count.Load()) }

// Bytes returns the sum of the entries' sizes.
func (t *Table[E, X]) Bytes() int {
	n := 0
	for sh := range t.Shards() {
		n += sh.bytes
	}
	return n
}

// Evicted returns how many entries the cap has evicted.
func (t *Table[E, X]) Evicted() uint64 { return t.evicted.Load() }

// Unlock releases the shard, then evicts an entry for each Put that took
// the table past its cap meanwhile.
func (sh *Shard[E, X]) Unlock() {
	if sh.over == 0 {
		sh.mu.Unlock()
		return
	}
	n, fresh, anon := sh.over, sh.fresh, sh.freshAnon
	sh.over, sh.freshAnon = 0, false
	sh.mu.Unlock()
	for range n {
		sh.t.evict(sh, fresh, anon)
	}
}

// Get returns the entry under h, expired or not.
func (sh *Shard[E, X]) Get(h [32]byte) (E, bool) {
	e, ok := sh.m[h]
	return e, ok
}

// Live returns the entry under h unless it has expired at now; an expired
// entry is deleted.
func (sh *Shard[E, X]) Live(h [32]byte, now time.Time) (E, bool) {
	e, ok := sh.m[h]
	if ok && e.Expired(now) {
		sh.Delete(h)
		if sh.t.expired != nil {
			sh.t.expired(sh, h, e, now)
		}
		var zero E
		return zero, false
	}
	return e, ok
}

// Put stores e under h, replacing the entry there. When it adds an entry
// to a table that already holds its cap, Unlock evicts one.
func (sh *Shard[E, X]) Put(h [32]byte, e E) {
	p := e.Principal()
	old, had := sh.m[h]
	sh.m[h] = e
	sh.bytes += e.Size()
	if had {
		// A write that keeps the principal touches no index or counter.
		sh.bytes -= old.Size()
		if op := old.Principal(); op != p {
			sh.unindex(h, op)
			sh.index(h, p)
		}
		return
	}
	sh.index(h, p)
	if sh.t.count.Add(1) > sh.t.max && sh.t.max >= 0 {
		sh.over++
		sh.fresh, sh.freshAnon = h, p == ""
	}
}

// Delete removes the entry under h and returns it.
func (sh *Shard[E, X]) Delete(h [32]byte) (E, bool) {
	e, ok := sh.m[h]
	if ok {
		delete(sh.m, h)
		sh.bytes -= e.Size()
		sh.unindex(h, e.Principal())
		sh.t.count.Add(-1)
	}
	return e, ok
}

// keys are the keys of one principal's entries in a shard (and of any
// other principal whose name hashes the same): most principals have one
// session, which takes no map.
type keys struct {
	one  [32]byte
	more map[[32]byte]struct{} // the others, nil while there are none
}

// index files h under its principal p, or counts it as anonymous.
func (sh *Shard[E, X]) index(h [32]byte, p string) {
	if p == "" {
		sh.anonymous.Add(1)
		sh.t.anonymous.Add(1)
		return
	}
	ph := maphash.String(sh.t.seed, p)
	ks, ok := sh.principals[ph]
	if !ok {
		sh.principals[ph] = keys{one: h}
		return
	}
	if ks.one == h {
		return
	}
	if ks.more == nil {
		ks.more = map[[32]byte]struct{}{}
		sh.principals[ph] = ks
	}
	ks.more[h] = struct{}{}
}

func (sh *Shard[E, X]) unindex(h [32]byte, p string) {
	if p == "" {
		sh.anonymous.Add(-1)
		sh.t.anonymous.Add(-1)
		return
	}
	ph := maphash.String(sh.t.seed, p)
	ks, ok := sh.principals[ph]
	if !ok {
		return
	}
	if ks.one != h {
		delete(ks.more, h)
		if len(ks.more) == 0 && ks.more != nil {
			ks.more = nil
			sh.principals[ph] = ks
		}
		return
	}
	if len(ks.more) == 0 {
		delete(sh.principals, ph)
		return
	}
	for k := range ks.more {
		ks.one = k
		delete(ks.more, k)
		break
	}
	if len(ks.more) == 0 {
		ks.more = nil
	}
	sh.principals[ph] = ks
}

// All returns the shard's entries. The loop may delete them.
func (sh *Shard[E, X]) All() iter.Seq2[[32]byte, E] {
	return func(yield func([32]byte, E) bool) {
		for h, e := range sh.m {
			if !yield(h, e) {
				return
			}
		}
	}
}

// Principal returns the keys of the principal's entries in the shard. The
// loop may delete them.
func (sh *Shard[E, X]) Principal(p string) iter.Seq[[32]byte] {
	return func(yield func([32]byte) bool) {
		if p == "" {
			return
		}
		ks, ok := sh.principals[maphash.String(sh.t.seed, p)]
		if !ok {
			return
		}
		// The loop may change the index: it walks a copy, of the keys
		// of p alone.
		all := make([][32]byte, 0, 1+len(ks.more))
		all = append(all, ks.one)
		for h := range ks.more {
			all = append(all, h)
		}
		for _, h := range all {
			if e, ok := sh.m[h]; !ok || e.Principal() != p {
				continue
			}
			if !yield(h) {
				return
			}
		}
	}
}

// RemoveExpired deletes the shard's entries that have expired at now.
func (sh *Shard[E, X]) RemoveExpired(now time.Time) {
	for h, e := range sh.m {
		if e.Expired(now) {
			sh.Delete(h)
			if sh.t.expired != nil {
				sh.t.expired(sh, h, e, now)
			}
		}
	}
}

// evict removes one entry if the table holds more than its cap, for a Put
// into from (fresh its key, anon whether its entry is anonymous): an
// anonymous entry, the one closest to its end of a sample from from or else
// from the shard that holds the most anonymous entries; a logged-in one
// only when the table holds no anonymous entry. The new entry goes only
// when it is the one anonymous entry its shard holds. No shard is locked.
func (t *Table[E, X]) evict(from *Shard[E, X], fresh [32]byte, anon bool) {
	skip := func(h [32]byte) bool { return anon && h == fresh }
	// Under a flood the shard of the Put holds anonymous entries: a few
	// steps find them.
	if from.anonymous.Load() > 0 {
		from.mu.Lock()
		h, ok := from.victim(true, probe, skip)
		done := t.evictLocked(from, h, ok)
		from.mu.Unlock()
		if done {
			return
		}
	}
	// Entries come and go while it looks: each round that finds nothing
	// saw another operation take what it counted on, and looks again.
	for round := 0; ; round++ {
		var h [32]byte
		ok := false
		sh := t.richest(from, anon)
		if sh != nil {
			sh.mu.Lock()
			h, ok = sh.victim(true, -1, skip)
		} else {
			sh = &t.shards[(from.i+round)%shardCount]
			sh.mu.Lock()
			if e, in := sh.m[fresh]; anon && sh == from && in && e.Principal() == "" {
				h, ok = fresh, true // the table's one anonymous entry
			} else if t.anonymous.Load() == 0 {
				// The victim's shard is locked: if the table holds no
				// anonymous entry now, a logged-in entry may go.
				h, ok = sh.victim(false, samples, skip)
			}
		}
		done := t.evictLocked(sh, h, ok)
		sh.mu.Unlock()
		if done {
			return
		}
	}
}

// evictLocked deletes h (if ok) when the table is still past its cap, and
// reports whether evict is done. sh is locked.
func (t *Table[E, X]) evictLocked(sh *Shard[E, X], h [32]byte, ok bool) bool {
	if t.count.Load() <= t.max {
		return true // another Delete made room meanwhile
	}
	if !ok {
		return false
	}
	sh.Delete(h)
	t.evicted.Add(1)
	return true
}

// richest returns the shard that holds the most anonymous entries, nil if
// none holds any, leaving out from's new entry when anon.
func (t *Table[E, X]) richest(from *Shard[E, X], anon bool) *Shard[E, X] {
	var best *Shard[E, X]
	most := int64(0)
	for i := range t.shards {
		n := t.shards[i].anonymous.Load()
		if anon && &t.shards[i] == from {
			n--
		}
		if n > most {
			best, most = &t.shards[i], n
		}
	}
	return best
}

// victim returns the key of the entry to evict from sh: among the first
// samples anonymous entries (any entries when !anonymous) but skip's, met
// in at most limit entries (limit < 0: all), the one closest to its end. Map
// iteration starts at a random place: the entries met are a sample. sh is
// locked.
func (sh *Shard[E, X]) victim(anonymous bool, limit int, skip func([32]byte) bool) (h [32]byte, ok bool) {
	var first time.Time
	seen, found := 0, 0
	for k, e := range sh.m {
		if seen++; limit >= 0 && seen > limit {
			break
		}
		if skip(k) {
			continue
		}
		if anonymous && e.Principal() != "" {
			continue
		}
		end := e.End()
		if !ok || end.Before(first) {
			h, first, ok = k, end, true
		}
		if found++; found == samples {
			break
		}
	}
	return h, ok
}
