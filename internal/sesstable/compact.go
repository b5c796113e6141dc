package sesstable

import (
	"encoding/binary"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/sessionkit/sessionkit"
)

// Compact is a session as a table holds it: its metadata and its values
// encoded together in one immutable string, a single allocation of about
// the session's own size. (A Go map of values per session costs several
// times the bytes it holds.)
//
// Every change returns a new Compact, so Values, All and Value hand out
// slices of its memory, which callers must not modify. Its zero value is an
// anonymous session without values that has expired.
//
// The encoding, in order: the idle deadline and the deadline as big-endian
// Unix nanoseconds (8 bytes each, read on every access); the principal
// after its length as a uvarint; the session's size (see Size) as a
// uvarint; the creation time and the idle timeout as varints; the
// persistent flag (one byte); the generation as a uvarint; then each value
// as its key and its bytes, each after its length as a uvarint. Times are
// kept to the nanosecond, without location or monotonic reading; the zero
// time is kept as 0 and comes back as the zero time.
type Compact struct {
	s string
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
	b := append(make([]byte, 0, len(h)+uvarintLen(uint64(len(meta.Principal)))+len(meta.Principal)+n), h[:fixed]...)
	b = appendString(b, meta.Principal)
	b = append(b, h[fixed:]...)
	for k, v := range values {
		b = appendValue(b, k, v)
	}
	return seal(b)
}

// seal makes b, which nothing else holds, a Compact without copying it.
func seal(b []byte) Compact {
	if len(b) == 0 {
		return Compact{}
	}
	return Compact{s: unsafe.String(&b[0], len(b))}
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

// header returns the metadata but the principal, and the size: the
// deadlines (fixed bytes), then the rest, which follows the principal.
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

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendValue(b []byte, k string, v []byte) []byte {
	b = appendString(b, k)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// nanos returns t as Unix nanoseconds, 0 for the zero time, clamped to
// the range an int64 holds.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(firstNano):
		return math.MinInt64 + 1
	case !t.Before(pastNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// The years whose times nanos keeps exactly, compared as instants (a
// year's number would take a calendar computation on every write).
var (
	firstNano = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	pastNanos = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// uvarint reads a uvarint at i and returns it and the offset after it.
func (c Compact) uvarint(i int) (uint64, int) {
	var x uint64
	for shift := uint(0); i < len(c.s); shift += 7 {
		b := c.s[i]
		i++
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	return x, i
}

func (c Compact) varint(i int) (int64, int) {
	u, i := c.uvarint(i)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x, i
}

// Principal returns the session's principal, "" when it is anonymous. It
// shares the record's memory.
func (c Compact) Principal() string {
	if len(c.s) <= fixed {
		return ""
	}
	n, i := c.uvarint(fixed)
	return c.s[i : i+int(n)]
}

// deadlines returns the idle deadline and the deadline in Unix
// nanoseconds.
func (c Compact) deadlines() (idle, deadline int64) {
	if len(c.s) < fixed {
		return 0, 0
	}
	var a, b uint64
	for i := range 8 {
		a = a<<8 | uint64(c.s[i])
		b = b<<8 | uint64(c.s[8+i])
	}
	return int64(a), int64(b)
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
	n := now.UnixNano() // now is a time a clock gave
	return n >= idle || n >= deadline
}

// afterPrincipal returns the offset of the size.
func (c Compact) afterPrincipal() int {
	n, i := c.uvarint(fixed)
	return i + int(n)
}

// Size is the size of the session as Size counts it: its principal, and
// its values' keys and bytes.
func (c Compact) Size() int {
	if len(c.s) <= fixed {
		return 0
	}
	v, _ := c.uvarint(c.afterPrincipal())
	return int(v)
}

// Heap returns the bytes of the record's encoding.
func (c Compact) Heap() int { return len(c.s) }

// body returns the offset of the first value, and the metadata when meta
// is not nil.
func (c Compact) body(meta *sessionkit.Meta) int {
	if len(c.s) <= fixed {
		return len(c.s)
	}
	_, i := c.uvarint(c.afterPrincipal()) // the size
	created, i := c.varint(i)
	timeout, i := c.varint(i)
	persistent := i < len(c.s) && c.s[i] == 1
	gen, i := c.uvarint(i + 1)
	if meta != nil {
		idle, deadline := c.deadlines()
		*meta = sessionkit.Meta{
			Principal: c.Principal(), Created: fromNanos(created), IdleDeadline: fromNanos(idle), Deadline: fromNanos(deadline),
			IdleTimeout: time.Duration(timeout), Persistent: persistent, Generation: gen,
		}
	}
	return i
}

// Meta returns the session's metadata. Its principal shares the record's
// memory.
func (c Compact) Meta() sessionkit.Meta {
	var m sessionkit.Meta
	c.body(&m)
	return m
}

// bytesOf returns s as a byte slice that shares its memory, which must
// therefore never be modified.
func bytesOf(s string) []byte {
	if len(s) == 0 {
		return empty[:0:0]
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

var empty = []byte{}

// next returns the value at i (the offset of a key's length), and the
// offset after it.
func (c Compact) next(i int) (k string, v []byte, end int) {
	kl, i := c.uvarint(i)
	k = c.s[i : i+int(kl)]
	vl, i := c.uvarint(i + int(kl))
	end = i + int(vl)
	return k, bytesOf(c.s[i:end]), end
}

// All returns the session's values in the order they were encoded. Keys and
// values share the record's memory: they must not be modified.
func (c Compact) All(yield func(k string, v []byte) bool) {
	for i := c.body(nil); i < len(c.s); {
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
	if c.body(nil) >= len(c.s) {
		return nil
	}
	m := make(map[string][]byte, c.Len())
	for k, v := range c.All {
		m[k] = v
	}
	return m
}

// Value returns the value of key, which must not be modified.
func (c Compact) Value(key string) ([]byte, bool) {
	for k, v := range c.All {
		if k == key {
			return v, true
		}
	}
	return nil, false
}

// ValuesSize returns the size of the session's values: their keys' and
// bytes' lengths added up.
func (c Compact) ValuesSize() int { return c.Size() - len(c.Principal()) }

// View returns the session's values as a sessionkit.Values that reads
// them in place. Keys and values share the record's memory: they must not
// be modified.
func (c Compact) View() sessionkit.Values { return view(c) }

// view is a Compact as a sessionkit.Values.
type view Compact

var _ sessionkit.Values = view{}

func (v view) Value(key string) ([]byte, bool)         { return Compact(v).Value(key) }
func (v view) All(yield func(k string, v []byte) bool) { Compact(v).All(yield) }
func (v view) Size() int                               { return Compact(v).ValuesSize() }

// Touched returns the session with its idle deadline moved to idle.
func (c Compact) Touched(idle time.Time) Compact {
	if len(c.s) <= fixed {
		m := c.Meta()
		m.IdleDeadline = idle
		return NewCompact(&m, nil)
	}
	b := append(make([]byte, 0, len(c.s)), c.s...)
	binary.BigEndian.PutUint64(b, uint64(nanos(idle)))
	return seal(b)
}

// scanUpTo is the longest Delta.Set a rebuild scans rather than indexes.
const scanUpTo = 8

// Apply returns the session after a delta: its metadata replaced when
// d.Meta is not nil, its idle deadline moved, the keys of d.Set written
// and then those of d.Deleted removed (a key in both goes).
func (c Compact) Apply(d *sessionkit.Delta) Compact {
	return c.rebuild(d.Meta, d.IdleDeadline, d.Set, d.Deleted, false, "", nil)
}

// With returns the session with key set to v (removed when v is nil) and
// its idle deadline moved to idle.
func (c Compact) With(key string, v []byte, idle time.Time) Compact {
	return c.rebuild(nil, idle, nil, nil, true, key, v)
}

// rebuild encodes meta (c's own when nil) with its idle deadline moved to
// idle, and the values from c but those set, deleted or (when hasOne) named
// one, then those set, then one with the value oneV unless oneV is nil.
// With c's own metadata, its encoding is copied but for the idle deadline
// and the size.
func (c Compact) rebuild(meta *sessionkit.Meta, idle time.Time, set []sessionkit.Entry, deleted []string, hasOne bool, one string, oneV []byte) Compact {
	if meta == nil && len(c.s) <= fixed {
		m := c.Meta() // the zero Compact, which has no encoding to copy
		meta = &m
	}
	// A request sets a key or two, which a scan of set finds sooner than
	// a map hashes; a set longer than scanUpTo is indexed. A key set
	// twice keeps its last value.
	var index map[string]int
	if len(set) > scanUpTo {
		index = make(map[string]int, len(set))
		for i, e := range set {
			index[e.Key] = i
		}
	}
	lastOf := func(k string) int {
		if index != nil {
			if i, ok := index[k]; ok {
				return i
			}
			return -1
		}
		for i := len(set) - 1; i >= 0; i-- {
			if set[i].Key == k {
				return i
			}
		}
		return -1
	}
	// written reports whether set[i] goes into the record: the last of
	// its key, and not deleted (a key both set and deleted goes).
	written := func(i int) bool {
		k := set[i].Key
		return lastOf(k) == i && !slices.Contains(deleted, k)
	}
	n, size := 0, 0
	for i, e := range set {
		if written(i) {
			n += valueLen(e.Key, e.Value)
			size += len(e.Key) + len(e.Value)
		}
	}
	gone := func(k string) bool {
		return hasOne && k == one || slices.Contains(deleted, k) || lastOf(k) >= 0
	}
	if oneV != nil {
		n += valueLen(one, oneV)
		size += len(one) + len(oneV)
	}
	// The values kept, from one pass over c (the first 64 remembered).
	start := c.body(nil)
	var dropped uint64
	idx := 0
	for i := start; i < len(c.s); idx++ {
		k, v, end := c.next(i)
		if gone(k) {
			if idx < 64 {
				dropped |= 1 << idx
			}
		} else {
			n += end - i
			size += len(k) + len(v)
		}
		i = end
	}
	keep := func(idx int, k string) bool {
		if idx < 64 {
			return dropped&(1<<idx) == 0
		}
		return !gone(k)
	}
	var b []byte
	if meta == nil {
		sizeAt := c.afterPrincipal()
		size += len(c.Principal())
		_, rest := c.uvarint(sizeAt)
		b = make([]byte, 0, sizeAt+uvarintLen(uint64(size))+start-rest+n)
		b = binary.BigEndian.AppendUint64(b, uint64(nanos(idle)))
		b = append(b, c.s[8:sizeAt]...)
		b = binary.AppendUvarint(b, uint64(size))
		b = append(b, c.s[rest:start]...)
	} else {
		m := *meta
		m.IdleDeadline = idle
		size += len(m.Principal)
		var buf [maxHeader]byte
		h := header(buf[:0], &m, size)
		b = append(make([]byte, 0, len(h)+uvarintLen(uint64(len(m.Principal)))+len(m.Principal)+n), h[:fixed]...)
		b = appendString(b, m.Principal)
		b = append(b, h[fixed:]...)
	}
	idx = 0
	for i := start; i < len(c.s); idx++ {
		k, _, end := c.next(i)
		if keep(idx, k) {
			b = append(b, c.s[i:end]...)
		}
		i = end
	}
	for i, e := range set {
		if written(i) {
			b = appendValue(b, e.Key, e.Value)
		}
	}
	if oneV != nil {
		b = appendValue(b, one, oneV)
	}
	return seal(b)
}
