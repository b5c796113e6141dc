package clusterstore

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/expiry"
	"github.com/sessionkit/sessionkit/internal/sesstable"
	"github.com/sessionkit/sessionkit/internal/token"
)

// record is one session as a node holds it, as owner or as backup: the
// session encoded compactly (its Meta, Values and Get decode it), and its
// version. A record is never modified once stored: writes replace it.
type record struct {
	sesstable.Compact
	version uint64 // raised by every write at the owner
	// mine: this node wrote the record as the key's owner (or put it
	// back, undone). The first write of an owner that got the record
	// any other way, or after an undo, raises the version by
	// versionJump and replicates the whole record, so that it overrides
	// every copy a previous owner may have left at a version of its own.
	mine, undone bool
	ops          []uint64 // the ids of its last writes (see dedup.go); shared, never modified
}

// versionJump is how far the first write of a new owner raises a key's
// version: beyond any write a previous owner can have had in flight.
const versionJump = 1 << 20

// follows reports whether the owner's next write over r is one version
// on, as a delta, rather than a jump, as a whole record.
func (r *record) follows() bool { return r.mine && !r.undone }

// nextVersion is the version of the owner's next write over r.
func (r *record) nextVersion() uint64 {
	if r.follows() {
		return r.version + 1
	}
	return r.version + versionJump
}

func newRecord(meta sessionkit.Meta, values map[string][]byte, version uint64) *record {
	return &record{Compact: sesstable.NewCompact(&meta, values), version: version}
}

// tombstone remembers a deleted session's last version, so that a late
// message never brings it back.
type tombstone struct {
	version uint64
	until   time.Time
}

// msgKind is the kind of a replication message.
type msgKind byte

const (
	kindFull   msgKind = 1 + iota // the whole record
	kindDelta                     // a delta on version-1
	kindDelete                    // a tombstone
)

// writeBit marks a write in a message's kind byte.
const writeBit = 0x80

// message replicates one write from the owner to a backup, or carries a
// copy of a record from any node that holds one to another.
type message struct {
	kind    msgKind
	write   bool // a write by the key's owner, not a copy: backups check the sender owns the key
	h       [32]byte
	version uint64
	meta    sessionkit.Meta
	values  map[string][]byte  // kindFull: all values
	set     []sessionkit.Entry // kindDelta: the keys set
	deleted []string           // kindDelta
	ops     []uint64           // operation ids: kindFull, the record's; kindDelta, the write's
	// undo is the state an owner's write replaced (kind 0: none), put
	// back if a backup refuses the write. Never sent.
	undo *message
	// rec, in an undo of kind kindFull, is the record replaced, in
	// place of meta and values.
	rec *record
}

// table holds a node's records, owned and backed up, in the session table
// memstore uses too, with each shard's tombstones beside its records. Its
// cap (Config.MaxSessions) counts every record; an eviction leaves no
// tombstone and sends no message (see the package doc).
type table struct {
	recs    *sesstable.Table[*record, tombs]
	tombTTL time.Duration

	// Expiry reports: owns says whether this node owns a key, and so
	// reports its expiry; life is the reports' context.
	expired expiry.Notifier
	owns    func(h [32]byte) bool
	life    context.Context
}

// tombs are a shard's tombstones.
type tombs = map[[32]byte]tombstone

// shard is one of a table's shards; its methods run with it locked.
type shard = sesstable.Shard[*record, tombs]

var _ sesstable.Entry = (*record)(nil)

// newTable returns an empty table that holds at most maxSessions records
// (0: sesstable.DefaultMax; negative: no cap).
func newTable(tombTTL time.Duration, maxSessions int) *table {
	t := &table{tombTTL: tombTTL}
	t.recs = sesstable.New(maxSessions, func(sh *shard, h [32]byte, r *record, now time.Time) {
		t.bury(sh, h, r.version, now)
		if t.expired.Listening() && t.owns != nil && t.owns(h) {
			t.expired.Queue(sessionkit.Expiry{ID: token.ID(h), Principal: r.Principal()})
		}
	})
	return t
}

// bury leaves a tombstone of version under h.
func (t *table) bury(sh *shard, h [32]byte, version uint64, now time.Time) {
	if sh.Extra == nil {
		sh.Extra = tombs{}
	}
	sh.Extra[h] = tombstone{version: version, until: now.Add(t.tombTTL)}
}

// put stores r under h, in place of any record or tombstone.
func put(sh *shard, h [32]byte, r *record) {
	delete(sh.Extra, h)
	sh.Put(h, r)
}

func (t *table) load(h [32]byte) (*record, bool) {
	sh := t.recs.Lock(h)
	defer sh.Unlock()
	return sh.Live(h, time.Now())
}

func (t *table) create(h [32]byte, op uint64, meta sessionkit.Meta, values map[string][]byte) message {
	sh := t.recs.Lock(h)
	defer sh.Unlock()
	version := uint64(1)
	var prev message
	old, _ := sh.Live(h, time.Now())
	if old != nil {
		prev = message{kind: kindFull, h: h, version: old.version, rec: old}
		if old.applied(op) {
			r, m := old.again(h)
			put(sh, h, r)
			m.undo = &prev
			return m
		}
		version = old.nextVersion()
	} else if ts, ok := sh.Extra[h]; ok {
		version = ts.version + versionJump
		prev = message{kind: kindDelete, h: h, version: ts.version}
	}
	r := newRecord(meta, values, version)
	r.mine, r.ops = true, withOps(nil, op)
	put(sh, h, r)
	return message{kind: kindFull, h: h, version: version, meta: meta, values: maps.Clone(values), ops: r.ops, undo: &prev}
}

// write replaces the live record under h with change's result and returns
// the message that replicates it.
func (t *table) write(h [32]byte, change func(old *record) (*record, message, error)) (message, error) {
	sh := t.recs.Lock(h)
	defer sh.Unlock()
	old, ok := sh.Live(h, time.Now())
	if !ok {
		return message{}, sessionkit.ErrNotFound
	}
	r, m, err := change(old)
	if err != nil {
		return message{}, err
	}
	m.undo = &message{kind: kindFull, h: h, version: old.version, rec: old}
	put(sh, h, r)
	return m, nil
}

func (t *table) commit(h [32]byte, op uint64, d sessionkit.Delta) (message, error) {
	return t.write(h, once(h, op, func(old *record) (*record, message, error) {
		r, m := old.next(h, d)
		return r, m, nil
	}))
}

// next returns the record after the delta, and the message that
// replicates it. Records are never modified in place.
func (r *record) next(h [32]byte, d sessionkit.Delta) (*record, message) {
	next := &record{Compact: r.Apply(&d), version: r.nextVersion(), mine: true}
	meta := next.Meta()
	if !r.follows() {
		return next, message{kind: kindFull, h: h, version: next.version, meta: meta, values: next.Values()}
	}
	return next, message{kind: kindDelta, h: h, version: next.version, meta: meta, set: slices.Clone(d.Set), deleted: slices.Clone(d.Deleted)}
}

// swap sets one key if its value is still old (absent when !oldOK): the
// compare-and-set of a remote Update. It returns errSwapFailed if the
// value changed.
func (t *table) swap(h [32]byte, op uint64, key string, old []byte, oldOK bool, next []byte, deadline time.Time) (message, error) {
	return t.write(h, once(h, op, func(r *record) (*record, message, error) {
		cur, ok := r.Value(key)
		if ok != oldOK || !bytes.Equal(cur, old) {
			return nil, message{}, errSwapFailed
		}
		return r.with(h, key, next, deadline)
	}))
}

// take removes the record under h and returns it with the tombstone
// message.
func (t *table) take(h [32]byte) (*record, message, error) {
	sh := t.recs.Lock(h)
	defer sh.Unlock()
	now := time.Now()
	r, ok := sh.Live(h, now)
	if !ok {
		return nil, message{}, sessionkit.ErrNotFound
	}
	sh.Delete(h)
	v := r.nextVersion()
	t.bury(sh, h, v, now)
	return r, message{kind: kindDelete, h: h, version: v, undo: &message{kind: kindFull, h: h, version: r.version, rec: r}}, nil
}

// apply applies a replicated message. It reports whether the node needs
// the record's full state (a delta arrived over a gap).
func (t *table) apply(m message) (needFull bool) {
	sh := t.recs.Lock(m.h)
	defer sh.Unlock()
	now := time.Now()
	cur, _ := sh.Get(m.h)
	curVersion := uint64(0)
	if cur != nil {
		curVersion = cur.version
	} else if ts, ok := sh.Extra[m.h]; ok {
		curVersion = ts.version
	}
	if m.version <= curVersion {
		if !m.write {
			return false // old news
		}
		// A write of the key's owner (rpcReplicate checked the sender)
		// at a version this node holds already. The owner sends its
		// writes to each backup in order, so a backup that follows them
		// holds the owner's record: a version at least as high comes
		// from another owner's jump that never became the owner's (a
		// write refused and undone after a backup took it), and the
		// owner's next jump may land at or below it. The owner's record
		// wins: whole, it replaces the copy; a delta the copy lacks asks
		// for the whole record; a tombstone buries the copy.
		switch m.kind {
		case kindFull:
		case kindDelta:
			return cur != nil && len(m.ops) > 0 && !cur.applied(m.ops[len(m.ops)-1]) ||
				cur == nil && len(m.ops) > 0
		case kindDelete:
			if cur == nil {
				return false
			}
			m.version = curVersion
		}
	}
	switch m.kind {
	case kindFull:
		r := newRecord(m.meta, m.values, m.version)
		r.ops = withOps(nil, m.ops...)
		put(sh, m.h, r)
	case kindDelta:
		if cur == nil || cur.version != m.version-1 {
			return true // a gap: never apply a delta over a missing one
		}
		meta := m.meta
		put(sh, m.h, &record{Compact: cur.Apply(&sessionkit.Delta{Set: m.set, Deleted: m.deleted, IdleDeadline: meta.IdleDeadline, Meta: &meta}), version: m.version, ops: withOps(cur.ops, m.ops...)})
	case kindDelete:
		sh.Delete(m.h)
		t.bury(sh, m.h, m.version, now)
	}
	return false
}

// full returns the message carrying the record's whole state, or its
// tombstone.
func (t *table) full(h [32]byte) (message, bool) {
	sh := t.recs.Lock(h)
	defer sh.Unlock()
	return state(sh, h)
}

// state is full with h's shard locked.
func state(sh *shard, h [32]byte) (message, bool) {
	if r, ok := sh.Get(h); ok {
		return message{kind: kindFull, h: h, version: r.version, meta: r.Meta(), values: r.Values(), ops: r.ops}, true
	}
	if ts, ok := sh.Extra[h]; ok {
		return message{kind: kindDelete, h: h, version: ts.version}, true
	}
	return message{}, false
}

// undo takes back an owner's write that a backup refused (the key has a
// new owner, where the write is retried): the state it replaced comes
// back, unless a write of another owner came in since. Writes of this
// node made after m under the same view are refused too, and their undos
// run in any order, so the earliest state wins. The next write over the
// state put back jumps the version, as a new owner's does.
func (t *table) undo(m message) {
	h := m.h
	sh := t.recs.Lock(h)
	defer sh.Unlock()
	cur, _ := sh.Get(h)
	switch {
	case cur != nil && cur.mine && cur.version >= m.version:
		sh.Delete(h)
	case cur == nil && m.kind == kindDelete && sh.Extra[h].version == m.version:
	default:
		return
	}
	delete(sh.Extra, h)
	switch p := m.undo; p.kind {
	case kindFull:
		var r *record
		if p.rec != nil {
			c := *p.rec
			r = &c
			r.version = p.version
		} else {
			r = newRecord(p.meta, p.values, p.version)
			r.ops = p.ops
		}
		r.mine, r.undone = true, true
		put(sh, h, r)
	case kindDelete:
		t.bury(sh, h, p.version, time.Now())
	}
}

// drop forgets the record or tombstone of the given version: a copy the
// node neither owns nor backs up any more, handed to the key's owner.
func (t *table) drop(h [32]byte, version uint64) {
	sh := t.recs.Lock(h)
	defer sh.Unlock()
	if r, ok := sh.Get(h); ok && r.version == version {
		sh.Delete(h)
	}
	if ts, ok := sh.Extra[h]; ok && ts.version == version {
		delete(sh.Extra, h)
	}
}

// hashes returns the hashes and versions of every record held.
func (t *table) hashes() map[[32]byte]uint64 {
	out := make(map[[32]byte]uint64, t.recs.Len())
	for sh := range t.recs.Shards() {
		for h, r := range sh.All() {
			out[h] = r.version
		}
	}
	return out
}

// ofPrincipal returns the hashes of the principal's records.
func (t *table) ofPrincipal(p string) [][32]byte {
	var out [][32]byte
	for sh := range t.recs.Shards() {
		for h := range sh.Principal(p) {
			out = append(out, h)
		}
	}
	return out
}

// sweep removes expired records and tombstones past their time, and
// reports the expired records this node owns, and those found expired on
// access since the last sweep.
func (t *table) sweep(now time.Time) {
	for sh := range t.recs.Shards() {
		sh.RemoveExpired(now)
		for h, ts := range sh.Extra {
			if now.After(ts.until) {
				delete(sh.Extra, h)
			}
		}
	}
}

// stats returns the number of records and their bytes.
func (t *table) stats() (int, int) {
	return t.recs.Len(), t.recs.Bytes()
}
