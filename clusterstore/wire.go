package clusterstore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/bin"
)

// The data plane's messages are small binary records: unsigned varints,
// length-prefixed bytes, and times as Unix nanoseconds.

var errMalformed = errors.New("clusterstore: malformed message")

// encoder appends a message's fields to a byte slice; each method returns
// the slice grown by one field.
type encoder []byte

func (e encoder) uvarint(v uint64) encoder { return binary.AppendUvarint(e, v) }
func (e encoder) varint(v int64) encoder   { return binary.AppendVarint(e, v) }
func (e encoder) bytes(v []byte) encoder   { return bin.Append(e, v) }
func (e encoder) string(v string) encoder  { return bin.Append(e, v) }
func (e encoder) hash(v [32]byte) encoder  { return append(e, v[:]...) }

func (e encoder) time(v time.Time) encoder { return e.varint(v.UnixNano()) }

func (e encoder) duration(v time.Duration) encoder { return e.varint(int64(v)) }

func (e encoder) flag(v bool) encoder {
	if v {
		return append(e, 1)
	}
	return append(e, 0)
}

func (e encoder) meta(m *sessionkit.Meta) encoder {
	return e.string(m.Principal).time(m.Created).time(m.IdleDeadline).time(m.Deadline).
		duration(m.IdleTimeout).flag(m.Persistent).uvarint(m.Generation)
}

func (e encoder) values(v map[string][]byte) encoder {
	e = e.uvarint(uint64(len(v)))
	for k, b := range v {
		e = e.string(k).bytes(b)
	}
	return e
}

// entries is values' encoding of a Delta's Set.
func (e encoder) entries(v []sessionkit.Entry) encoder {
	e = e.uvarint(uint64(len(v)))
	for _, x := range v {
		e = e.string(x.Key).bytes(x.Value)
	}
	return e
}

func (e encoder) strings(v []string) encoder {
	e = e.uvarint(uint64(len(v)))
	for _, s := range v {
		e = e.string(s)
	}
	return e
}

func (e encoder) hashes(v [][32]byte) encoder {
	e = e.uvarint(uint64(len(v)))
	for _, h := range v {
		e = e.hash(h)
	}
	return e
}

// decoder reads a message's fields in order: internal/bin's Reader,
// whose first failure sticks (every later read returns a zero value and Err
// reports it, wrapping errMalformed), with the data plane's own types.
type decoder struct{ bin.Reader }

func newDecoder(b []byte) *decoder { return &decoder{bin.NewReader(b, errMalformed)} }

// count reads the number of items that follow, each at least one byte.
func (d *decoder) count() int { return d.Length(1) }

// bytes reads a length-prefixed byte slice, which shares the message's
// memory.
func (d *decoder) bytes() []byte { return d.Bytes() }

func (d *decoder) string() string { return d.Str() }

func (d *decoder) uvarint() uint64 { return d.Uvarint() }

func (d *decoder) time() time.Time {
	n := d.Varint()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (d *decoder) duration() time.Duration { return time.Duration(d.Varint()) }

func (d *decoder) hash() [32]byte { return [32]byte(d.Fixed(32)) }

func (d *decoder) flag() bool { return d.Byte() == 1 }

func (d *decoder) meta() sessionkit.Meta {
	return sessionkit.Meta{Principal: d.string(), Created: d.time(), IdleDeadline: d.time(), Deadline: d.time(),
		IdleTimeout: d.duration(), Persistent: d.flag(), Generation: d.uvarint()}
}

func (d *decoder) values() map[string][]byte {
	n := d.count()
	if d.Err() != nil {
		return nil
	}
	v := make(map[string][]byte, n)
	for range n {
		k := d.string()
		v[k] = d.bytes()
	}
	return v
}

func (d *decoder) entries() []sessionkit.Entry {
	n := d.count() // bounded by the bytes left
	v := make([]sessionkit.Entry, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		k := d.string()
		v = append(v, sessionkit.Entry{Key: k, Value: d.bytes()})
	}
	return v
}

func (d *decoder) strings() []string {
	n := d.count()
	var v []string
	for range n {
		v = append(v, d.string())
	}
	return v
}

func (d *decoder) hashes() [][32]byte {
	n := d.count()
	var v [][32]byte
	for i := 0; i < n && d.Err() == nil; i++ {
		v = append(v, d.hash())
	}
	return v
}

func encodeRecord(r *record) encoder {
	meta := r.Meta()
	return encoder{}.uvarint(r.version).meta(&meta).values(r.Values())
}

func decodeRecord(b []byte) (*record, error) {
	d := newDecoder(b)
	version := d.uvarint()
	meta := d.meta()
	return newRecord(meta, d.values(), version), d.Err()
}

func (e encoder) delta(d *sessionkit.Delta) encoder {
	e = e.time(d.IdleDeadline).entries(d.Set).strings(d.Deleted).flag(d.Meta != nil)
	if d.Meta != nil {
		e = e.meta(d.Meta)
	}
	return e
}

func (d *decoder) delta() sessionkit.Delta {
	delta := sessionkit.Delta{IdleDeadline: d.time(), Set: d.entries(), Deleted: d.strings()}
	if d.flag() {
		m := d.meta()
		delta.Meta = &m
	}
	return delta
}

// traceBit marks, in a message's kind byte, a message followed by the
// trace context of the write it replicates. A node that does not trace
// never sets it: its messages are as before tracing existed.
const traceBit = 0x40

// message appends a replication message: its kind (with the write bit),
// the key, the version and, by kind, the state or the delta, then the
// operation ids it carries, if any (the kind byte's opBit set).
func (e encoder) message(m *message) encoder {
	kind := byte(m.kind)
	if m.write {
		kind |= writeBit
	}
	if len(m.ops) > 0 {
		kind |= opBit
	}
	e = append(e, kind).hash(m.h).uvarint(m.version)
	switch m.kind {
	case kindFull:
		e = e.meta(&m.meta).values(m.values)
	case kindDelta:
		e = e.meta(&m.meta).entries(m.set).strings(m.deleted)
	}
	if len(m.ops) > 0 {
		e = e.ops(m.ops)
	}
	return e
}

// tracedMessage appends a replication message followed, when carrier
// holds any, by the trace context it carries (the kind byte's traceBit
// set).
func (e encoder) tracedMessage(m *message, carrier map[string]string) encoder {
	if len(carrier) == 0 {
		return e.message(m)
	}
	at := len(e)
	e = e.message(m)
	e[at] |= traceBit
	e = e.uvarint(uint64(len(carrier)))
	for k, v := range carrier {
		e = e.string(k).string(v)
	}
	return e
}

// message reads a replication message, and skips the trace context it
// may carry.
func (d *decoder) message() message {
	m, _ := d.tracedMessage()
	return m
}

// tracedMessage reads a replication message and the trace context it
// carries (nil: none).
func (d *decoder) tracedMessage() (message, map[string]string) {
	var m message
	kind := d.Byte()
	traced, withOps := kind&traceBit != 0, kind&opBit != 0
	m.kind, m.write = msgKind(kind&^(writeBit|traceBit|opBit)), kind&writeBit != 0
	m.h, m.version = d.hash(), d.uvarint()
	switch m.kind {
	case kindFull:
		m.meta, m.values = d.meta(), d.values()
	case kindDelta:
		m.meta, m.set, m.deleted = d.meta(), d.entries(), d.strings()
	case kindDelete:
	default:
		d.Fail("unknown message kind")
	}
	if withOps {
		m.ops = d.ops()
	}
	if !traced || d.Err() != nil {
		return m, nil
	}
	n := d.count()
	carrier := make(map[string]string, n)
	for range n {
		k := d.string()
		carrier[k] = d.string()
	}
	return m, carrier
}
