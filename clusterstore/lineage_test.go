package clusterstore

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// lineage sets up four tables holding one session at the same version:
// a its owner, b, c and d copies.
func lineage(t *testing.T) (a, b, c, d *table, h [32]byte, add func(k, v string) sessionkit.Delta) {
	t.Helper()
	later := time.Now().Add(time.Hour)
	meta := sessionkit.Meta{IdleDeadline: later, Deadline: later}
	add = func(k, v string) sessionkit.Delta {
		return sessionkit.Delta{IdleDeadline: later, Set: []sessionkit.Entry{{Key: k, Value: []byte(v)}}}
	}
	a, b, c, d = newTable(time.Minute, 0), newTable(time.Minute, 0), newTable(time.Minute, 0), newTable(time.Minute, 0)
	h[0] = 7
	m := a.create(h, newOp(), meta, map[string][]byte{"cart": []byte("a")})
	for _, tb := range []*table{b, c, d} {
		tb.apply(m)
	}
	return a, b, c, d, h, add
}

// written marks a message as a write of the key's owner, as Store.write
// does before replicating it.
func written(m message, err error) message {
	if err != nil {
		panic(err)
	}
	m.write = true
	return m
}

// sameCopy fails unless the owner's record and the backup's agree.
func sameCopy(t *testing.T, owner, backup *table, h [32]byte) {
	t.Helper()
	ro, _ := owner.load(h)
	rb, _ := backup.load(h)
	if ro == nil || rb == nil || ro.version != rb.version || !sameValues(ro.Values(), rb.Values()) {
		t.Fatalf("owner %+v %q, backup %+v %q: the copies differ", ro, valuesOf(ro), rb, valuesOf(rb))
	}
}

func sameValues(x, y map[string][]byte) bool {
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if w, ok := y[k]; !ok || string(w) != string(v) {
			return false
		}
	}
	return true
}

func valuesOf(r *record) map[string]string {
	if r == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range r.Values() {
		out[k] = string(v)
	}
	return out
}

// A write is refused and undone at its owner A after backup B took it;
// retried at B, which then lost the key too, it reached backup D before
// B undid it; the key's owner is now C, whose first write jumps from a
// version below D's copy. D must follow C's writes from then on, not take
// them for old news.
func TestAgainJumpUndoneElsewhere(t *testing.T) {
	a, b, c, d, h, add := lineage(t)
	op := newOp()
	w := written(a.commit(h, op, add("cart", "ax")))
	b.apply(w)
	a.undo(w)
	again := written(b.commit(h, op, add("cart", "ax")))
	d.apply(again)
	b.undo(again)
	for i, m := range []message{
		written(c.commit(h, op, add("cart", "ax"))),
		written(c.commit(h, newOp(), add("d1", "1"))),
		written(c.commit(h, newOp(), add("d2", "2"))),
	} {
		if d.apply(m) {
			full, _ := c.full(h)
			full.write = true
			if d.apply(full) {
				t.Fatalf("write %d: the owner's whole record still leaves a gap", i)
			}
		}
	}
	sameCopy(t, c, d, h)
}

// The same after an ordinary write: B's first write after its jump was
// undone jumps to the very version D holds from the jump undone.
func TestUndoneJumpThenFirstWrite(t *testing.T) {
	a, b, _, d, h, add := lineage(t)
	op := newOp()
	w := written(a.commit(h, op, add("cart", "ax")))
	b.apply(w)
	a.undo(w)
	again := written(b.commit(h, op, add("cart", "ax")))
	d.apply(again)
	b.undo(again)
	for i, m := range []message{
		written(b.commit(h, newOp(), add("e1", "1"))),
		written(b.commit(h, newOp(), add("e2", "2"))),
	} {
		if d.apply(m) {
			full, _ := b.full(h)
			full.write = true
			if d.apply(full) {
				t.Fatalf("write %d: the owner's whole record still leaves a gap", i)
			}
		}
	}
	sameCopy(t, b, d, h)
}

// A copy, not a write, is still taken only at a later version: a late copy
// never brings an older state back.
func TestBackupIgnoresOlderCopy(t *testing.T) {
	a, _, _, d, h, add := lineage(t)
	old, _ := a.full(h)
	m := written(a.commit(h, newOp(), add("x", "1")))
	d.apply(m)
	if d.apply(old) {
		t.Fatal("an older copy asked for the whole record")
	}
	sameCopy(t, a, d, h)
	// A delta of the owner's that the backup already holds is old news.
	if d.apply(m) {
		t.Fatal("a write applied already asked for the whole record")
	}
	sameCopy(t, a, d, h)
}

// A create retried after its session expired starts the session again
// rather than rewriting the expired record and reporting success.
func TestRetriedCreateAfterExpiry(t *testing.T) {
	tb := newTable(time.Minute, 0)
	later := time.Now().Add(time.Hour)
	meta := sessionkit.Meta{IdleDeadline: later, Deadline: later}
	var h [32]byte
	h[0] = 9
	op := newOp()
	tb.create(h, op, meta, map[string][]byte{"a": []byte("1")})
	// The session expires: an idle deadline in the past.
	if _, err := tb.commit(h, newOp(), sessionkit.Delta{IdleDeadline: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	m := tb.create(h, op, meta, map[string][]byte{"a": []byte("1")})
	r, ok := tb.load(h)
	if !ok || string(r.Values()["a"]) != "1" || m.meta.Expired(time.Now()) {
		t.Fatalf("retried create after expiry: record %+v, %v, message %+v; want a live session", r, ok, m)
	}
}

// A backup that missed its owner's jump (it became a backup since) and
// holds a copy of another node's above the owner's version asks for the
// whole record when the owner's next delta arrives, rather than taking
// it for old news; the owner's record, sent as its write, replaces the
// copy.
func TestBackupBehindOwnerAskReplaced(t *testing.T) {
	_, b, c, d, h, add := lineage(t)
	d.apply(written(b.commit(h, newOp(), add("b1", "1"))))
	d.apply(written(b.commit(h, newOp(), add("b2", "2"))))
	written(c.commit(h, newOp(), add("c1", "1"))) // the jump d missed
	m := written(c.commit(h, newOp(), add("c2", "2")))
	if rd, _ := d.load(h); rd.version < m.version {
		t.Fatalf("setup: the backup's copy is at %d, below the owner's delta at %d", rd.version, m.version)
	}
	if !d.apply(m) {
		t.Fatal("a delta the backup's copy lacks was taken for old news")
	}
	full, _ := c.full(h)
	full.write = true
	if d.apply(full) {
		t.Fatal("the owner's whole record still leaves a gap")
	}
	sameCopy(t, c, d, h)

	// The owner deletes the session while the backup holds another copy
	// above: the copy goes, and the tombstone keeps the higher version.
	above, _ := c.full(h)
	above.version += 1 << 30
	d.apply(above)
	_, del, err := c.take(h)
	if err != nil {
		t.Fatal(err)
	}
	del.write = true
	if d.apply(del) {
		t.Fatal("a delete asked for the whole record")
	}
	if _, ok := d.load(h); ok {
		t.Fatal("the owner's delete left the backup's copy")
	}
	if ts, ok := d.full(h); !ok || ts.kind != kindDelete || ts.version != above.version {
		t.Fatalf("tombstone %+v, %v; want one at version %d", ts, ok, above.version)
	}
}
