package sesstable

import (
	"encoding/binary"
	"math"
	"time"
	"unsafe"

	"github.com/sessionkit/sessionkit"
)

// Compact is a session as a table holds it: its principal, and its other
// metadata and its values encoded together in one byte slice, a single
// allocation of about the session's own size. A Go map of values per
// session would cost several times the bytes it holds.
//
// A Compact is immutable: every change returns a new one, so Values and
// Get may hand out slices of its memory, which callers must not modify.
// Its zero value is an anonymous session without values that has expired.
//
// The encoding, in order: the idle deadline and the deadline as big-endian
// Unix nanoseconds (8 bytes each, read on every access); the session's
// size (see Size) as a uvarint; the creation time and the idle timeout as
// varints; the persistent flag (one byte); the generation as a uvarint;
// then each value as its key and its bytes, each after its length as a
// uvarint. Times are kept to the nanosecond, without location or
// monotonic reading; the zero time is kept as 0 and comes back as the
// zero time.
type Compact struct {
	principal string
	b         []byte
}

const fixed = 16 // the two deadlines

// NewCompact encodes a session.
func NewCompact(meta *sessionkit.Meta, values map[string][]byte) Compact {
	n, size := 0, len(meta.Principal)
	for k, v := range values {
		n += valueLen(k, v)
		size += len(k) + len(v)
	}
	var buf [maxHeader]byte
	h := header(buf[:0], meta, size)
	b := append(make([]byte, 0, len(h)+n), h...)
	for k, v := range values {
		b = appendValue(b, k, v)
	}
	return Compact{principal: meta.Principal, b: b}
}

// maxHeader bounds the length of a header.
const maxHeader = fixed + 4*binary.MaxVarintLen64 + 1

// valueLen is the length of a value's encoding.
func valueLen(k string, v []byte) int {
	return uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// header appends the metadata but the principal, and the size.
func header(b []byte, meta *sessionkit.Meta, size int) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(nanos(meta.IdleDeadline)))
	b = binary.BigEndian.AppendUint64(b, uint64(nanos(meta.Deadline)))
	b = binary.AppendUvarint(b, uint64(size))
	b = binary.AppendVarint(b, nanos(meta.Created))
	b = binary.AppendVarint(b, int64(meta.IdleTimeout))
	p := byte(0)
	if meta.Persistent {
		p = 1
	}
	b = append(b, p)
	return binary.AppendUvarint(b, meta.Generation)
}

func appendValue(b []byte, k string, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(k)))
	b = append(b, k...)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// nanos returns t as Unix nanoseconds, 0 for the zero time, clamped to
// the range an int64 holds.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Year() < 1678:
		return math.MinInt64 + 1
	case t.Year() > 2261:
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Principal returns the session's principal, "" when it is anonymous.
func (c Compact) Principal() string { return c.principal }

// deadlines returns the idle deadline and the deadline in Unix
// nanoseconds.
func (c Compact) deadlines() (idle, deadline int64) {
	if len(c.b) < fixed {
		return 0, 0
	}
	return int64(binary.BigEndian.Uint64(c.b)), int64(binary.BigEndian.Uint64(c.b[8:]))
}

// End returns when the session expires unless it is used again: its idle
// deadline or its deadline, whichever comes first.
func (c Compact) End() time.Time {
	idle, deadline := c.deadlines()
	return fromNanos(min(idle, deadline))
}

// Expired reports whether the session has passed either deadline at now,
// as sessionkit.Meta.Expired does.
func (c Compact) Expired(now time.Time) bool {
	idle, deadline := c.deadlines()
	n := nanos(now)
	return n >= idle || n >= deadline
}

// Size is the size of the session as Size counts it: its principal, and
// its values' keys and bytes.
func (c Compact) Size() int {
	if len(c.b) < fixed {
		return len(c.principal)
	}
	v, _ := binary.Uvarint(c.b[fixed:])
	return int(v)
}

// Heap returns the bytes the record's encoding occupies (its principal,
// shared with the session's Meta, not counted).
func (c Compact) Heap() int { return cap(c.b) }

// body returns the offset of the first value, and the metadata when meta
// is not nil.
func (c Compact) body(meta *sessionkit.Meta) int {
	b := c.b
	if len(b) < fixed {
		return len(b)
	}
	i := fixed
	_, n := binary.Uvarint(b[i:]) // size
	i += n
	created, n := binary.Varint(b[i:])
	i += n
	timeout, n := binary.Varint(b[i:])
	i += n
	persistent := b[i] == 1
	i++
	gen, n := binary.Uvarint(b[i:])
	i += n
	if meta != nil {
		idle, deadline := c.deadlines()
		*meta = sessionkit.Meta{
			Principal: c.principal, Created: fromNanos(created), IdleDeadline: fromNanos(idle), Deadline: fromNanos(deadline),
			IdleTimeout: time.Duration(timeout), Persistent: persistent, Generation: gen,
		}
	}
	return i
}

// Meta returns the session's metadata.
func (c Compact) Meta() sessionkit.Meta {
	var m sessionkit.Meta
	if len(c.b) < fixed {
		m.Principal = c.principal
		return m
	}
	c.body(&m)
	return m
}

// next returns the value at i (the offset of a key's length), and the
// offset after it.
func (c Compact) next(i int) (k string, v []byte, end int) {
	b := c.b
	kl, n := binary.Uvarint(b[i:])
	i += n
	k = unsafe.String(unsafe.SliceData(b[i:]), int(kl)) // b never changes
	i += int(kl)
	vl, n := binary.Uvarint(b[i:])
	i += n
	end = i + int(vl)
	return k, b[i:end:end], end
}

// All returns the session's values in the order they were encoded. Keys and
// values share the record's memory: they must not be modified.
func (c Compact) All(yield func(k string, v []byte) bool) {
	for i := c.body(nil); i < len(c.b); {
		k, v, end := c.next(i)
		if !yield(k, v) {
			return
		}
		i = end
	}
}

// Len returns the number of values.
func (c Compact) Len() int {
	n := 0
	for range c.All {
		n++
	}
	return n
}

// Values returns the session's values in a new map, nil when it has none.
// Keys and values share the record's memory: they must not be modified.
func (c Compact) Values() map[string][]byte {
	i := c.body(nil)
	if i >= len(c.b) {
		return nil
	}
	m := make(map[string][]byte, c.Len())
	for k, v := range c.All {
		m[k] = v
	}
	return m
}

// Get returns the value of key, which must not be modified.
func (c Compact) Get(key string) ([]byte, bool) {
	for k, v := range c.All {
		if k == key {
			return v, true
		}
	}
	return nil, false
}

// Touched returns the session with its idle deadline moved to idle.
func (c Compact) Touched(idle time.Time) Compact {
	if len(c.b) < fixed {
		m := c.Meta()
		m.IdleDeadline = idle
		return NewCompact(&m, nil)
	}
	b := append(make([]byte, 0, len(c.b)), c.b...)
	binary.BigEndian.PutUint64(b, uint64(nanos(idle)))
	return Compact{principal: c.principal, b: b}
}

// Apply returns the session after a delta: its metadata replaced when
// d.Meta is not nil, its idle deadline moved, the keys of d.Set written
// and those of d.Deleted removed.
func (c Compact) Apply(d *sessionkit.Delta) Compact {
	var meta sessionkit.Meta
	start := c.body(&meta)
	if len(c.b) < fixed {
		meta.Principal = c.principal
	}
	if d.Meta != nil {
		meta = *d.Meta
	}
	meta.IdleDeadline = d.IdleDeadline
	return c.rebuild(&meta, start, d.Set, d.Deleted, false, "", nil)
}

// With returns the session with key set to v (removed when v is nil) and
// its idle deadline moved to idle.
func (c Compact) With(key string, v []byte, idle time.Time) Compact {
	var meta sessionkit.Meta
	start := c.body(&meta)
	if len(c.b) < fixed {
		meta.Principal = c.principal
	}
	meta.IdleDeadline = idle
	return c.rebuild(&meta, start, nil, nil, true, key, v)
}

// rebuild encodes meta with the values from start on, but those set,
// deleted or (when hasOne) named one, then those set, then one with the
// value oneV unless oneV is nil.
func (c Compact) rebuild(meta *sessionkit.Meta, start int, set map[string][]byte, deleted []string, hasOne bool, one string, oneV []byte) Compact {
	gone := func(k string) bool {
		if hasOne && k == one {
			return true
		}
		if _, ok := set[k]; ok {
			return true
		}
		for _, d := range deleted {
			if d == k {
				return true
			}
		}
		return false
	}
	n, size := 0, len(meta.Principal)
	for k, v := range set {
		n += valueLen(k, v)
		size += len(k) + len(v)
	}
	if oneV != nil {
		n += valueLen(one, oneV)
		size += len(one) + len(oneV)
	}
	for i := start; i < len(c.b); {
		k, v, end := c.next(i)
		if !gone(k) {
			n += end - i
			size += len(k) + len(v)
		}
		i = end
	}
	var buf [maxHeader]byte
	h := header(buf[:0], meta, size)
	b := append(make([]byte, 0, len(h)+n), h...)
	for i := start; i < len(c.b); {
		k, _, end := c.next(i)
		if !gone(k) {
			b = append(b, c.b[i:end]...)
		}
		i = end
	}
	for k, v := range set {
		b = appendValue(b, k, v)
	}
	if oneV != nil {
		b = appendValue(b, one, oneV)
	}
	return Compact{principal: meta.Principal, b: b}
}
