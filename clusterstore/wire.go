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

type enc []byte

func (e enc) u(v uint64) enc        { return binary.AppendUvarint(e, v) }
func (e enc) b(v []byte) enc        { return append(e.u(uint64(len(v))), v...) }
func (e enc) s(v string) enc        { return append(e.u(uint64(len(v))), v...) }
func (e enc) i(v int64) enc         { return binary.AppendVarint(e, v) }
func (e enc) t(v time.Time) enc     { return binary.AppendVarint(e, v.UnixNano()) }
func (e enc) h(v [32]byte) enc      { return append(e, v[:]...) }
func (e enc) flag(v bool) enc       { return append(e, map[bool]byte{false: 0, true: 1}[v]) }
func (e enc) d(v time.Duration) enc { return binary.AppendVarint(e, int64(v)) }

func (e enc) meta(m *sessionkit.Meta) enc {
	return e.s(m.Principal).t(m.Created).t(m.IdleDeadline).t(m.Deadline).d(m.IdleTimeout).flag(m.Persistent).u(m.Generation)
}

func (e enc) values(v map[string][]byte) enc {
	e = e.u(uint64(len(v)))
	for k, b := range v {
		e = e.s(k).b(b)
	}
	return e
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errMalformed
	}
	d.b = nil
}

func (d *dec) u() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) b_() []byte {
	n := d.u()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) s() string { return string(d.b_()) }

func (d *dec) t() time.Time {
	n := d.i()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (d *dec) h() (h [32]byte) {
	if len(d.b) < 32 {
		d.fail()
		return h
	}
	copy(h[:], d.b)
	d.b = d.b[32:]
	return h
}

func (d *dec) flag() bool {
	if len(d.b) < 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *dec) meta() sessionkit.Meta {
	return sessionkit.Meta{Principal: d.s(), Created: d.t(), IdleDeadline: d.t(), Deadline: d.t(),
		IdleTimeout: time.Duration(d.i()), Persistent: d.flag(), Generation: d.u()}
}

func (d *dec) values() map[string][]byte {
	n := d.u()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := make(map[string][]byte, n)
	for range n {
		k := d.s()
		v[k] = d.b_()
	}
	return v
}
