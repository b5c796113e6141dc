// Package bin reads and writes the small binary records sessionkit keeps
// and sends: unsigned and signed varints, length-prefixed bytes and
// strings, fixed-size fields. Writing is encoding/binary's Append functions
// and Append here; reading is a Reader, whose first error sticks.
package bin

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Append appends v with its length as a uvarint before it.
func Append[S ~string | ~[]byte](b []byte, v S) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Reader reads a record from a byte slice. The first failure sticks: every
// later read returns a zero value and Err reports that first failure, so a
// decoder reads all its fields and checks Err once. A Reader is not safe
// for concurrent use.
type Reader struct {
	b         []byte
	s         string // the same bytes as b, when strings share them
	shared    bool
	malformed error
	err       error
}

// NewReader returns a Reader of b. Its failures wrap malformed, which
// callers compare with errors.Is.
func NewReader(b []byte, malformed error) Reader {
	return Reader{b: b, malformed: malformed}
}

// NewSharedReader is NewReader whose Str and Bytes results share b's
// memory, without copies: the caller must never modify or reuse b while
// they live.
func NewSharedReader(b []byte, malformed error) Reader {
	r := Reader{b: b, shared: true, malformed: malformed}
	if len(b) > 0 {
		r.s = unsafe.String(&b[0], len(b))
	}
	return r
}

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns how many bytes remain unread.
func (r *Reader) Len() int { return len(r.b) }

// Fail records a failure, described by what, unless one is recorded
// already, and drops what remains.
func (r *Reader) Fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", r.malformed, what)
	}
	r.b, r.s = nil, ""
}

func (r *Reader) advance(n int) {
	r.b = r.b[n:]
	if r.shared {
		r.s = r.s[n:]
	}
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) == 0 {
		r.Fail("truncated")
		return 0
	}
	c := r.b[0]
	r.advance(1)
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.advance(n)
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.advance(n)
	return v
}

// IntIn reads a signed varint that must lie in [min, max].
func (r *Reader) IntIn(min, max int64) int64 {
	v := r.Varint()
	if v < min || v > max {
		r.Fail("integer out of range")
	}
	return v
}

// UintIn reads an unsigned varint that must not pass max.
func (r *Reader) UintIn(max uint64) uint64 {
	v := r.Uvarint()
	if v > max {
		r.Fail("integer out of range")
	}
	return v
}

// Length reads a uvarint count of elements that each take at least min
// bytes (min >= 1) in what remains, so that a forged count cannot make the
// caller allocate more than the record's size.
func (r *Reader) Length(min int) int {
	n := r.Uvarint()
	if n > uint64(len(r.b)/min) {
		r.Fail("length past end")
		return 0
	}
	return int(n)
}

// Bytes reads length-prefixed bytes. The result shares the record's
// memory, capped so that appending to it copies.
func (r *Reader) Bytes() []byte {
	n := r.Length(1)
	v := r.b[:n:n]
	r.advance(n)
	return v
}

// Str reads a length-prefixed string: a copy, or, from a shared Reader, a
// string over the record's memory. (It is not String: a Reader is no
// fmt.Stringer, and printing one reads nothing.)
func (r *Reader) Str() string {
	if !r.shared {
		return string(r.Bytes())
	}
	n := r.Length(1)
	v := r.s[:n]
	r.advance(n)
	return v
}

// Fixed reads n bytes, sharing the record's memory (capped). On failure it
// returns n zero bytes, so that a caller may decode them regardless.
func (r *Reader) Fixed(n int) []byte {
	if len(r.b) < n {
		r.Fail("truncated")
		return make([]byte, n)
	}
	v := r.b[:n:n]
	r.advance(n)
	return v
}
