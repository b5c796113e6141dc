package sessionkit

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"time"
)

// Codec encodes one session value. Stores keep each key's value as the bytes
// a Codec made, so a request writes only the keys it changed. Encode and
// Decode may be called concurrently.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(b []byte) (any, error)
}

// BinaryCodec is the default Codec. Its format starts with a version byte
// and a type byte, and round-trips these types exactly: nil, string, []byte,
// bool, every int and uint type, float32, float64, time.Time (with its
// monotonic reading stripped and its location kept as UTC or a fixed
// offset), time.Duration, []string, map[string]string, []any and
// map[string]any of these. Any other type is encoded with encoding/gob, as
// an interface value, so it must be registered with gob.Register, as with
// most Go session managers.
type BinaryCodec struct{}

const codecVersion = 1

// Type bytes of BinaryCodec's format. Never renumber them: stored sessions
// hold them.
const (
	tNil byte = iota
	tString
	tBytes
	tFalse
	tTrue
	tInt
	tInt8
	tInt16
	tInt32
	tInt64
	tUint
	tUint8
	tUint16
	tUint32
	tUint64
	tFloat32
	tFloat64
	tTime
	tDuration
	tStrings
	tStringMap
	tSlice
	tMap
	tGob
)

var errCodec = errors.New("sessionkit: malformed encoded value")

// Encode implements Codec.
func (BinaryCodec) Encode(v any) ([]byte, error) {
	b := make([]byte, 0, 16)
	b = append(b, codecVersion)
	return appendValue(b, v, 0)
}

// Decode implements Codec.
func (BinaryCodec) Decode(b []byte) (any, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version", errCodec)
	}
	d := decoder{b: b[1:]}
	v := d.value(0)
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCodec, len(d.b))
	}
	return v, d.err
}

const maxDepth = 32

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("sessionkit: value nested deeper than %d", maxDepth)
	}
	switch v := v.(type) {
	case nil:
		return append(b, tNil), nil
	case string:
		return appendString(append(b, tString), v), nil
	case []byte:
		b = binary.AppendUvarint(append(b, tBytes), uint64(len(v)))
		return append(b, v...), nil
	case bool:
		if v {
			return append(b, tTrue), nil
		}
		return append(b, tFalse), nil
	case int:
		return binary.AppendVarint(append(b, tInt), int64(v)), nil
	case int8:
		return binary.AppendVarint(append(b, tInt8), int64(v)), nil
	case int16:
		return binary.AppendVarint(append(b, tInt16), int64(v)), nil
	case int32:
		return binary.AppendVarint(append(b, tInt32), int64(v)), nil
	case int64:
		return binary.AppendVarint(append(b, tInt64), v), nil
	case uint:
		return binary.AppendUvarint(append(b, tUint), uint64(v)), nil
	case uint8:
		return binary.AppendUvarint(append(b, tUint8), uint64(v)), nil
	case uint16:
		return binary.AppendUvarint(append(b, tUint16), uint64(v)), nil
	case uint32:
		return binary.AppendUvarint(append(b, tUint32), uint64(v)), nil
	case uint64:
		return binary.AppendUvarint(append(b, tUint64), v), nil
	case float32:
		return binary.BigEndian.AppendUint32(append(b, tFloat32), math.Float32bits(v)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, tFloat64), math.Float64bits(v)), nil
	case time.Time:
		t, err := v.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("sessionkit: encode time: %w", err)
		}
		b = binary.AppendUvarint(append(b, tTime), uint64(len(t)))
		return append(b, t...), nil
	case time.Duration:
		return binary.AppendVarint(append(b, tDuration), int64(v)), nil
	case []string:
		b = binary.AppendUvarint(append(b, tStrings), uint64(len(v)))
		for _, s := range v {
			b = appendString(b, s)
		}
		return b, nil
	case map[string]string:
		b = binary.AppendUvarint(append(b, tStringMap), uint64(len(v)))
		for k, s := range v {
			b = appendString(appendString(b, k), s)
		}
		return b, nil
	case []any:
		b = binary.AppendUvarint(append(b, tSlice), uint64(len(v)))
		var err error
		for _, e := range v {
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		b = binary.AppendUvarint(append(b, tMap), uint64(len(v)))
		var err error
		for k, e := range v {
			if b, err = appendValue(appendString(b, k), e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	default:
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
			return nil, fmt.Errorf("sessionkit: encode %T (register it with gob.Register or use another Codec): %w", v, err)
		}
		b = binary.AppendUvarint(append(b, tGob), uint64(buf.Len()))
		return append(b, buf.Bytes()...), nil
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCodec, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// length reads a length that must fit in what remains, each element taking
// at least min bytes, so a forged length cannot make us allocate much.
func (d *decoder) length(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail("length past end")
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.length(1)
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) fixed(n int) []byte {
	if len(d.b) < n {
		d.fail("truncated")
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) intIn(min, max int64) int64 {
	v := d.varint()
	if v < min || v > max {
		d.fail("integer out of range")
	}
	return v
}

func (d *decoder) uintIn(max uint64) uint64 {
	v := d.uvarint()
	if v > max {
		d.fail("integer out of range")
	}
	return v
}

func (d *decoder) value(depth int) any {
	if depth > maxDepth {
		d.fail("nested too deep")
		return nil
	}
	switch t := d.byte(); t {
	case tNil:
		return nil
	case tString:
		return d.string()
	case tBytes:
		return append([]byte{}, d.bytes()...)
	case tFalse:
		return false
	case tTrue:
		return true
	case tInt:
		return int(d.intIn(math.MinInt, math.MaxInt))
	case tInt8:
		return int8(d.intIn(math.MinInt8, math.MaxInt8))
	case tInt16:
		return int16(d.intIn(math.MinInt16, math.MaxInt16))
	case tInt32:
		return int32(d.intIn(math.MinInt32, math.MaxInt32))
	case tInt64:
		return d.varint()
	case tUint:
		return uint(d.uintIn(math.MaxUint))
	case tUint8:
		return uint8(d.uintIn(math.MaxUint8))
	case tUint16:
		return uint16(d.uintIn(math.MaxUint16))
	case tUint32:
		return uint32(d.uintIn(math.MaxUint32))
	case tUint64:
		return d.uvarint()
	case tFloat32:
		return math.Float32frombits(binary.BigEndian.Uint32(d.fixed(4)))
	case tFloat64:
		return math.Float64frombits(binary.BigEndian.Uint64(d.fixed(8)))
	case tTime:
		var v time.Time
		if err := v.UnmarshalBinary(d.bytes()); err != nil && d.err == nil {
			d.fail("bad time")
		}
		return v
	case tDuration:
		return time.Duration(d.varint())
	case tStrings:
		v := make([]string, d.length(1))
		for i := range v {
			v[i] = d.string()
		}
		return v
	case tStringMap:
		n := d.length(2)
		v := make(map[string]string, n)
		for range n {
			k := d.string()
			v[k] = d.string()
		}
		return v
	case tSlice:
		v := make([]any, d.length(1))
		for i := range v {
			v[i] = d.value(depth + 1)
		}
		return v
	case tMap:
		n := d.length(2)
		v := make(map[string]any, n)
		for range n {
			k := d.string()
			v[k] = d.value(depth + 1)
		}
		return v
	case tGob:
		var v any
		if err := gob.NewDecoder(bytes.NewReader(d.bytes())).Decode(&v); err != nil && d.err == nil {
			d.err = fmt.Errorf("%w: gob: %w", errCodec, err)
		}
		return v
	default:
		d.fail(fmt.Sprintf("unknown type %d", t))
		return nil
	}
}
