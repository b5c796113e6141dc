package clusterstore

import (
	"bytes"
	"maps"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
)

// record is one session as a node holds it, as owner or as backup. A
// record is never modified once stored: writes replace it.
type record struct {
	meta    sessionkit.Meta
	values  map[string][]byte
	version uint64 // raised by every write at the owner
	bytes   int
	// mine: this node wrote the record as the key's owner (or put it
	// back, undone). The first write of an owner that got the record
	// any other way, or after an undo, raises the version by
	// versionJump and replicates the whole record, so that it overrides
	// every copy a previous owner may have left at a version of its own.
	mine, undone bool
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
	r := &record{meta: meta, values: values, version: version, bytes: len(meta.Principal)}
	for k, v := range values {
		r.bytes += len(k) + len(v)
	}
	return r
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
	values  map[string][]byte // kindFull: all values; kindDelta: the keys set
	deleted []string          // kindDelta
	// undo is the state an owner's write replaced (kind 0: none), put
	// back if a backup refuses the write. Never sent.
	undo *message
}

func (m *message) encode(e enc) enc {
	kind := byte(m.kind)
	if m.write {
		kind |= writeBit
	}
	e = append(e, kind).h(m.h).u(m.version)
	switch m.kind {
	case kindFull:
		e = e.meta(&m.meta).values(m.values)
	case kindDelta:
		e = e.meta(&m.meta).values(m.values).u(uint64(len(m.deleted)))
		for _, k := range m.deleted {
			e = e.s(k)
		}
	}
	return e
}

func decodeMessage(d *dec) message {
	var m message
	if len(d.b) == 0 {
		d.fail()
		return m
	}
	m.kind, m.write = msgKind(d.b[0]&^writeBit), d.b[0]&writeBit != 0
	d.b = d.b[1:]
	m.h, m.version = d.h(), d.u()
	switch m.kind {
	case kindFull:
		m.meta, m.values = d.meta(), d.values()
	case kindDelta:
		m.meta, m.values = d.meta(), d.values()
		n := d.u()
		if n > uint64(len(d.b)) {
			d.fail()
			return m
		}
		for range n {
			m.deleted = append(m.deleted, d.s())
		}
	case kindDelete:
	default:
		d.fail()
	}
	return m
}

// table holds a node's records, owned and backed up.
type table struct {
	mu         sync.Mutex
	recs       map[[32]byte]*record
	tombs      map[[32]byte]tombstone
	principals map[string]map[[32]byte]struct{}
	bytes      int
	tombTTL    time.Duration
}

func newTable(tombTTL time.Duration) *table {
	return &table{recs: map[[32]byte]*record{}, tombs: map[[32]byte]tombstone{}, principals: map[string]map[[32]byte]struct{}{}, tombTTL: tombTTL}
}

// get returns the live record under h. t.mu is held.
func (t *table) get(h [32]byte, now time.Time) *record {
	r := t.recs[h]
	if r != nil && r.meta.Expired(now) {
		t.remove(h, r, now)
		return nil
	}
	return r
}

// put stores r under h, replacing old. t.mu is held.
func (t *table) put(h [32]byte, old, r *record) {
	if old != nil {
		t.unindex(h, old)
	}
	delete(t.tombs, h)
	t.recs[h] = r
	t.bytes += r.bytes
	if p := r.meta.Principal; p != "" {
		set := t.principals[p]
		if set == nil {
			set = map[[32]byte]struct{}{}
			t.principals[p] = set
		}
		set[h] = struct{}{}
	}
}

func (t *table) unindex(h [32]byte, r *record) {
	t.bytes -= r.bytes
	if p := r.meta.Principal; p != "" {
		delete(t.principals[p], h)
		if len(t.principals[p]) == 0 {
			delete(t.principals, p)
		}
	}
}

// remove deletes r and leaves a tombstone of its version. t.mu is held.
func (t *table) remove(h [32]byte, r *record, now time.Time) {
	delete(t.recs, h)
	t.unindex(h, r)
	t.tombs[h] = tombstone{version: r.version, until: now.Add(t.tombTTL)}
}

func (t *table) load(h [32]byte) (*record, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.get(h, time.Now())
	return r, r != nil
}

func (t *table) create(h [32]byte, meta sessionkit.Meta, values map[string][]byte) message {
	t.mu.Lock()
	defer t.mu.Unlock()
	version := uint64(1)
	old := t.recs[h]
	prev, _ := t.stateLocked(h)
	if old != nil {
		version = old.nextVersion()
	} else if ts, ok := t.tombs[h]; ok {
		version = ts.version + versionJump
	}
	values = maps.Clone(values)
	r := newRecord(meta, values, version)
	r.mine = true
	t.put(h, old, r)
	return message{kind: kindFull, h: h, version: version, meta: meta, values: values, undo: &prev}
}

// write replaces the live record under h with change's result and returns
// the message that replicates it.
func (t *table) write(h [32]byte, change func(old *record) (*record, message, error)) (message, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.get(h, time.Now())
	if old == nil {
		return message{}, sessionkit.ErrNotFound
	}
	r, m, err := change(old)
	if err != nil {
		return message{}, err
	}
	m.undo = &message{kind: kindFull, h: h, version: old.version, meta: old.meta, values: old.values}
	t.put(h, old, r)
	return m, nil
}

func (t *table) commit(h [32]byte, d sessionkit.Delta) (message, error) {
	return t.write(h, func(old *record) (*record, message, error) {
		r, m := old.next(h, d)
		return r, m, nil
	})
}

// next returns the record after the delta, and the message that
// replicates it. Records are never modified in place.
func (r *record) next(h [32]byte, d sessionkit.Delta) (*record, message) {
	meta := r.meta
	if d.Meta != nil {
		meta = *d.Meta
	}
	meta.IdleDeadline = d.IdleDeadline
	values := r.values
	if len(d.Set) > 0 || len(d.Deleted) > 0 {
		values = patch(r.values, d.Set, d.Deleted)
	}
	next := newRecord(meta, values, r.nextVersion())
	next.mine = true
	if !r.follows() {
		return next, message{kind: kindFull, h: h, version: next.version, meta: meta, values: values}
	}
	return next, message{kind: kindDelta, h: h, version: next.version, meta: meta, values: maps.Clone(d.Set), deleted: d.Deleted}
}

// patch returns a copy of values with set written and deleted removed.
func patch(values, set map[string][]byte, deleted []string) map[string][]byte {
	out := maps.Clone(values)
	if out == nil {
		out = make(map[string][]byte, len(set))
	}
	maps.Copy(out, set)
	for _, k := range deleted {
		delete(out, k)
	}
	return out
}

// swap sets one key if its value is still old (absent when !oldOK): the
// compare-and-set of a remote Update. It returns errSwapFailed if the
// value changed.
func (t *table) swap(h [32]byte, key string, old []byte, oldOK bool, next []byte, deadline time.Time) (message, error) {
	return t.write(h, func(r *record) (*record, message, error) {
		cur, ok := r.values[key]
		if ok != oldOK || !bytes.Equal(cur, old) {
			return nil, message{}, errSwapFailed
		}
		return r.with(h, key, next, deadline)
	})
}

// take removes the record under h and returns it with the tombstone
// message.
func (t *table) take(h [32]byte) (*record, message, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	r := t.get(h, now)
	if r == nil {
		return nil, message{}, sessionkit.ErrNotFound
	}
	t.remove(h, r, now)
	v := r.nextVersion()
	t.tombs[h] = tombstone{version: v, until: now.Add(t.tombTTL)}
	return r, message{kind: kindDelete, h: h, version: v, undo: &message{kind: kindFull, h: h, version: r.version, meta: r.meta, values: r.values}}, nil
}

// apply applies a replicated message. It reports whether the node needs
// the record's full state (a delta arrived over a gap).
func (t *table) apply(m message) (needFull bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	cur := t.recs[m.h]
	curVersion := uint64(0)
	if cur != nil {
		curVersion = cur.version
	} else if ts, ok := t.tombs[m.h]; ok {
		curVersion = ts.version
	}
	if m.version <= curVersion {
		return false // old news
	}
	switch m.kind {
	case kindFull:
		t.put(m.h, cur, newRecord(m.meta, m.values, m.version))
	case kindDelta:
		if cur == nil || cur.version != m.version-1 {
			return true // a gap: never apply a delta over a missing one
		}
		t.put(m.h, cur, newRecord(m.meta, patch(cur.values, m.values, m.deleted), m.version))
	case kindDelete:
		if cur != nil {
			t.remove(m.h, cur, now)
		}
		t.tombs[m.h] = tombstone{version: m.version, until: now.Add(t.tombTTL)}
	}
	return false
}

// full returns the message carrying the record's whole state, or its
// tombstone.
func (t *table) full(h [32]byte) (message, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stateLocked(h)
}

// stateLocked is full with t.mu held.
func (t *table) stateLocked(h [32]byte) (message, bool) {
	if r := t.recs[h]; r != nil {
		return message{kind: kindFull, h: h, version: r.version, meta: r.meta, values: r.values}, true
	}
	if ts, ok := t.tombs[h]; ok {
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
	t.mu.Lock()
	defer t.mu.Unlock()
	h := m.h
	cur := t.recs[h]
	switch {
	case cur != nil && cur.mine && cur.version >= m.version:
		t.unindex(h, cur)
		delete(t.recs, h)
	case cur == nil && m.kind == kindDelete && t.tombs[h].version == m.version:
	default:
		return
	}
	delete(t.tombs, h)
	switch p := m.undo; p.kind {
	case kindFull:
		r := newRecord(p.meta, p.values, p.version)
		r.mine, r.undone = true, true
		t.put(h, nil, r)
	case kindDelete:
		t.tombs[h] = tombstone{version: p.version, until: time.Now().Add(t.tombTTL)}
	}
}

// drop forgets the record or tombstone of the given version: a copy the
// node neither owns nor backs up any more, handed to the key's owner.
func (t *table) drop(h [32]byte, version uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.recs[h]; r != nil && r.version == version {
		delete(t.recs, h)
		t.unindex(h, r)
	}
	if ts, ok := t.tombs[h]; ok && ts.version == version {
		delete(t.tombs, h)
	}
}

// hashes returns the hashes and versions of every record held.
func (t *table) hashes() map[[32]byte]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[[32]byte]uint64, len(t.recs))
	for h, r := range t.recs {
		out[h] = r.version
	}
	return out
}

// ofPrincipal returns the hashes of the principal's records.
func (t *table) ofPrincipal(p string) [][32]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out [][32]byte
	for h := range t.principals[p] {
		out = append(out, h)
	}
	return out
}

// sweep removes expired records and tombstones past their time.
func (t *table) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for h, r := range t.recs {
		if r.meta.Expired(now) {
			t.remove(h, r, now)
		}
	}
	for h, ts := range t.tombs {
		if now.After(ts.until) {
			delete(t.tombs, h)
		}
	}
}

// stats returns the number of records and their bytes.
func (t *table) stats() (int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.recs), t.bytes
}
