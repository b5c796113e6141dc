package clusterstore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/sessionkit/sessionkit"
)

// The data plane's messages are small binary records: unsigned varints,
// length-prefixed bytes, and times as Unix nanoseconds.

var errMalformed = errors.New("clusterstore: malformed message")

// encoder appends a message's fields to a byte slice; each method returns
// the slice grown by one field.
type encoder []byte

func (e encoder) uvarint(v uint64) encoder { return binary.AppendUvarint(e, v) }
func (e encoder) varint(v int64) encoder   { return binary.AppendVarint(e, v) }
func (e encoder) bytes(v []byte) encoder   { return append(e.uvarint(uint64(len(v))), v...) }
func (e encoder) string(v string) encoder  { return append(e.uvarint(uint64(len(v))), v...) }
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

// decoder reads a message's fields in order. The first malformed field
// sets err, after which every read returns a zero value.
type decoder struct {
	rest []byte // what is left to read
	err  error  // errMalformed once a read failed
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errMalformed
	}
	d.rest = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.rest)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.rest = d.rest[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.rest)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.rest = d.rest[n:]
	return v
}

// count reads the number of items that follow. Each item takes at least
// one byte, so a count above the bytes left is malformed (and allocates
// nothing).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.rest)) {
		d.fail()
		return 0
	}
	return int(n)
}

// bytes reads a length-prefixed byte slice, which shares the message's
// memory.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.rest)) {
		d.fail()
		return nil
	}
	v := d.rest[:n:n]
	d.rest = d.rest[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	n := d.varint()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (d *decoder) duration() time.Duration { return time.Duration(d.varint()) }

func (d *decoder) hash() (h [32]byte) {
	if len(d.rest) < len(h) {
		d.fail()
		return h
	}
	copy(h[:], d.rest)
	d.rest = d.rest[len(h):]
	return h
}

func (d *decoder) flag() bool {
	if len(d.rest) < 1 {
		d.fail()
		return false
	}
	v := d.rest[0] == 1
	d.rest = d.rest[1:]
	return v
}

func (d *decoder) meta() sessionkit.Meta {
	return sessionkit.Meta{Principal: d.string(), Created: d.time(), IdleDeadline: d.time(), Deadline: d.time(),
		IdleTimeout: d.duration(), Persistent: d.flag(), Generation: d.uvarint()}
}

func (d *decoder) values() map[string][]byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	v := make(map[string][]byte, n)
	for range n {
		k := d.string()
		v[k] = d.bytes()
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
	for i := 0; i < n && d.err == nil; i++ {
		v = append(v, d.hash())
	}
	return v
}

func encodeRecord(r *record) encoder {
	return encoder{}.uvarint(r.version).meta(&r.meta).values(r.values)
}

func decodeRecord(b []byte) (*record, error) {
	d := decoder{rest: b}
	r := &record{version: d.uvarint(), meta: d.meta(), values: d.values()}
	return r, d.err
}

func (e encoder) delta(d *sessionkit.Delta) encoder {
	e = e.time(d.IdleDeadline).values(d.Set).strings(d.Deleted).flag(d.Meta != nil)
	if d.Meta != nil {
		e = e.meta(d.Meta)
	}
	return e
}

func (d *decoder) delta() sessionkit.Delta {
	delta := sessionkit.Delta{IdleDeadline: d.time(), Set: d.values(), Deleted: d.strings()}
	if d.flag() {
		m := d.meta()
		delta.Meta = &m
	}
	return delta
}
