package sessionkit

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sessionkit/sessionkit/internal/bin"
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
	b := make([]byte, 0, sizeHint(v))
	b = append(b, codecVersion)
	return appendValue(b, v, 0)
}

// sizeHint returns the encoded size of v, or more, for the types whose
// size is quick to count, so that Encode allocates once; 16 for others.
func sizeHint(v any) int {
	const head = 2 + binary.MaxVarintLen64 // version, type, length
	switch v := v.(type) {
	case string:
		return head + len(v)
	case []byte:
		return head + len(v)
	case []string:
		n := head
		for _, s := range v {
			n += binary.MaxVarintLen32 + len(s)
		}
		return n
	case map[string]string:
		n := head
		for k, s := range v {
			n += 2*binary.MaxVarintLen32 + len(k) + len(s)
		}
		return n
	}
	return 16
}

// Decode implements Codec.
func (BinaryCodec) Decode(b []byte) (any, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version", errCodec)
	}
	d := bin.NewReader(b[1:], errCodec)
	v := value(&d, 0)
	if d.Err() == nil && d.Len() != 0 {
		d.Fail(fmt.Sprintf("%d trailing bytes", d.Len()))
	}
	return v, d.Err()
}

// decodeInto decodes b, a BinaryCodec value, into *p when p is a *int,
// *int64, *string or *bool and b holds a well-formed value of exactly that
// type, and reports whether it did. It is Decode without the interface
// value, which costs an allocation per read: Get[int] of a user ID on every
// request. Anything else is left to Decode.
func decodeInto(b []byte, p any) bool {
	if len(b) < 2 || b[0] != codecVersion {
		return false
	}
	d := bin.NewReader(b[2:], errCodec)
	switch p := p.(type) {
	case *int:
		if b[1] != tInt {
			return false
		}
		v := d.IntIn(math.MinInt, math.MaxInt)
		if d.Err() != nil || d.Len() != 0 {
			return false
		}
		*p = int(v)
	case *int64:
		if b[1] != tInt64 {
			return false
		}
		v := d.Varint()
		if d.Err() != nil || d.Len() != 0 {
			return false
		}
		*p = v
	case *string:
		if b[1] != tString {
			return false
		}
		v := d.Str()
		if d.Err() != nil || d.Len() != 0 {
			return false
		}
		*p = v
	case *bool:
		if len(b) != 2 || (b[1] != tTrue && b[1] != tFalse) {
			return false
		}
		*p = b[1] == tTrue
	default:
		return false
	}
	return true
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
		return bin.Append(append(b, tString), v), nil
	case []byte:
		return bin.Append(append(b, tBytes), v), nil
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
		return bin.Append(append(b, tTime), t), nil
	case time.Duration:
		return binary.AppendVarint(append(b, tDuration), int64(v)), nil
	case []string:
		b = binary.AppendUvarint(append(b, tStrings), uint64(len(v)))
		for _, s := range v {
			b = bin.Append(b, s)
		}
		return b, nil
	case map[string]string:
		b = binary.AppendUvarint(append(b, tStringMap), uint64(len(v)))
		for k, s := range v {
			b = bin.Append(bin.Append(b, k), s)
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
			if b, err = appendValue(bin.Append(b, k), e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	default:
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
			return nil, fmt.Errorf("sessionkit: encode %T (register it with gob.Register or use another Codec): %w", v, err)
		}
		return bin.Append(append(b, tGob), buf.Bytes()), nil
	}
}

func value(d *bin.Reader, depth int) any {
	if depth > maxDepth {
		d.Fail("nested too deep")
		return nil
	}
	switch t := d.Byte(); t {
	case tNil:
		return nil
	case tString:
		return d.Str()
	case tBytes:
		return append([]byte{}, d.Bytes()...)
	case tFalse:
		return false
	case tTrue:
		return true
	case tInt:
		return int(d.IntIn(math.MinInt, math.MaxInt))
	case tInt8:
		return int8(d.IntIn(math.MinInt8, math.MaxInt8))
	case tInt16:
		return int16(d.IntIn(math.MinInt16, math.MaxInt16))
	case tInt32:
		return int32(d.IntIn(math.MinInt32, math.MaxInt32))
	case tInt64:
		return d.Varint()
	case tUint:
		return uint(d.UintIn(math.MaxUint))
	case tUint8:
		return uint8(d.UintIn(math.MaxUint8))
	case tUint16:
		return uint16(d.UintIn(math.MaxUint16))
	case tUint32:
		return uint32(d.UintIn(math.MaxUint32))
	case tUint64:
		return d.Uvarint()
	case tFloat32:
		return math.Float32frombits(binary.BigEndian.Uint32(d.Fixed(4)))
	case tFloat64:
		return math.Float64frombits(binary.BigEndian.Uint64(d.Fixed(8)))
	case tTime:
		var v time.Time
		if err := v.UnmarshalBinary(d.Bytes()); err != nil {
			d.Fail("bad time")
		}
		return v
	case tDuration:
		return time.Duration(d.Varint())
	case tStrings:
		v := make([]string, d.Length(1))
		for i := range v {
			v[i] = d.Str()
		}
		return v
	case tStringMap:
		n := d.Length(2)
		v := make(map[string]string, n)
		for range n {
			k := d.Str()
			v[k] = d.Str()
		}
		return v
	case tSlice:
		v := make([]any, d.Length(1))
		for i := range v {
			v[i] = value(d, depth+1)
		}
		return v
	case tMap:
		n := d.Length(2)
		v := make(map[string]any, n)
		for range n {
			k := d.Str()
			v[k] = value(d, depth+1)
		}
		return v
	case tGob:
		var v any
		if err := gob.NewDecoder(bytes.NewReader(d.Bytes())).Decode(&v); err != nil {
			d.Fail("gob: " + err.Error())
		}
		return v
	default:
		d.Fail(fmt.Sprintf("unknown type %d", t))
		return nil
	}
}
