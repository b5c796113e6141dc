package clusterstore

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
)

// Exactly-once writes. A write that a backup refuses (the key changed
// owner) is undone at the writer and retried at the new owner; with two
// backups or more, another backup may have taken it, and that backup may
// be the new owner. So every write carries an operation id, drawn where
// the write starts and kept through its forwards and retries. The owner
// records the id in the session's record, replication carries it to the
// backups (with a delta, the new id; with the whole record, every id it
// holds), and an owner that finds the id of a write already in the record
// does not apply it again: it sends the record, as it stands, to its
// backups, so the write has its copies once more, and answers success.
//
// A record keeps the ids of its last opsKept writes: a retry follows its
// refusal at once, so only a burst of more than opsKept other writes to
// the same session in between could push its id out.

// opsKept is how many operation ids a record keeps.
const opsKept = 8

// newOp returns a new operation id; 0 means none.
func newOp() uint64 {
	for {
		if op := rand.Uint64(); op != 0 {
			return op
		}
	}
}

// applied reports whether the record holds the write with id op.
func (r *record) applied(op uint64) bool {
	return op != 0 && slices.Contains(r.ops, op)
}

// withOps returns ops followed by more, keeping the last opsKept. It
// never modifies ops, which a stored record may share.
func withOps(ops []uint64, more ...uint64) []uint64 {
	out := make([]uint64, 0, min(len(ops)+len(more), opsKept))
	all := append(slices.Clip(ops), more...)
	for _, op := range all[max(0, len(all)-opsKept):] {
		if op != 0 {
			out = append(out, op)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// once wraps a change of the record under h, with operation id op: a
// record that holds op already is written again as it stands (see again);
// otherwise the change's result records op and its message carries it.
func once(h [32]byte, op uint64, change func(old *record) (*record, message, error)) func(old *record) (*record, message, error) {
	return func(old *record) (*record, message, error) {
		if old.applied(op) {
			r, m := old.again(h)
			return r, m, nil
		}
		r, m, err := change(old)
		if err != nil {
			return nil, message{}, err
		}
		r.ops = withOps(old.ops, op)
		if m.kind == kindFull {
			m.ops = r.ops
		} else if op != 0 {
			m.ops = []uint64{op}
		}
		return r, m, nil
	}
}

// again returns the record unchanged at the owner's next version, and the
// message carrying all of it: a retried write found applied is not applied
// twice, but its copies are made again.
func (r *record) again(h [32]byte) (*record, message) {
	next := &record{Compact: r.Compact, version: r.nextVersion(), mine: true, ops: r.ops}
	return next, message{kind: kindFull, h: h, version: next.version, meta: r.Meta(), values: r.Values(), ops: r.ops}
}

// opBit marks, in a message's kind byte, a message whose body is followed
// by operation ids. A message without ids is as before ids existed.
const opBit = 0x20

// ops appends a list of operation ids, each in 8 bytes.
func (e encoder) ops(v []uint64) encoder {
	e = e.uvarint(uint64(len(v)))
	for _, op := range v {
		e = binary.BigEndian.AppendUint64(e, op)
	}
	return e
}

func (d *decoder) ops() []uint64 {
	n := d.Length(8)
	var v []uint64
	for i := 0; i < n && d.Err() == nil; i++ {
		v = append(v, d.op())
	}
	return v
}

// op appends a request's operation id, last in the request; none (0) is
// left out, as requests were before ids existed.
func (e encoder) op(op uint64) encoder {
	if op == 0 {
		return e
	}
	return binary.BigEndian.AppendUint64(e, op)
}

// op reads an operation id in 8 bytes.
func (d *decoder) op() uint64 { return binary.BigEndian.Uint64(d.Fixed(8)) }

// trailingOp reads the operation id that ends a request, if any.
func (d *decoder) trailingOp() uint64 {
	if d.Err() != nil || d.Len() == 0 {
		return 0
	}
	return d.op()
}

// encodeLoaded appends a loaded record and, when it holds the write whose
// id the load carried, a flag after it. A load without an id (from a
// node before ids) is never flagged: its answer is as before ids existed.
func encodeLoaded(r *record, applied bool) encoder {
	e := encodeRecord(r)
	if applied {
		e = e.flag(true)
	}
	return e
}

// decodeLoaded reads what encodeLoaded wrote, or an answer without the
// flag (from a node before ids).
func decodeLoaded(b []byte) (*record, bool, error) {
	d := newDecoder(b)
	version := d.uvarint()
	meta := d.meta()
	r := newRecord(meta, d.values(), version)
	applied := d.Err() == nil && d.Len() > 0 && d.flag()
	return r, applied, d.Err()
}
