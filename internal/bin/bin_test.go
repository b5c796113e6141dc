package bin

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

var errBad = errors.New("bad record")

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = binary.AppendUvarint(b, math.MaxUint64)
	b = binary.AppendVarint(b, math.MinInt64)
	b = Append(b, "key")
	b = Append(b, []byte{1, 2, 3})
	b = append(b, "fixd"...)
	b = binary.AppendVarint(b, -5)
	b = binary.AppendUvarint(b, 9)
	for _, shared := range []bool{false, true} {
		r := NewReader(b, errBad)
		if shared {
			r = NewSharedReader(b, errBad)
		}
		if got := r.Byte(); got != 7 {
			t.Errorf("Byte = %d", got)
		}
		if got := r.Uvarint(); got != math.MaxUint64 {
			t.Errorf("Uvarint = %d", got)
		}
		if got := r.Varint(); got != math.MinInt64 {
			t.Errorf("Varint = %d", got)
		}
		if got := r.Str(); got != "key" {
			t.Errorf("Str = %q", got)
		}
		if got := r.Bytes(); string(got) != "\x01\x02\x03" || cap(got) != 3 {
			t.Errorf("Bytes = %v (cap %d)", got, cap(got))
		}
		if got := r.Fixed(4); string(got) != "fixd" {
			t.Errorf("Fixed = %q", got)
		}
		if got := r.IntIn(-5, 5); got != -5 {
			t.Errorf("IntIn = %d", got)
		}
		if got := r.UintIn(9); got != 9 {
			t.Errorf("UintIn = %d", got)
		}
		if r.Err() != nil || r.Len() != 0 {
			t.Errorf("shared %v: Err %v, %d bytes left", shared, r.Err(), r.Len())
		}
	}
}

func TestFirstErrorSticks(t *testing.T) {
	b := binary.AppendUvarint(nil, 100) // a length past the end
	b = append(b, "abc"...)
	r := NewReader(b, errBad)
	if got := r.Bytes(); len(got) != 0 {
		t.Errorf("Bytes = %q, want nothing", got)
	}
	first := r.Err()
	if !errors.Is(first, errBad) {
		t.Fatalf("Err = %v, want %v", first, errBad)
	}
	if got := r.Fixed(8); len(got) != 8 {
		t.Errorf("Fixed after failure returned %d bytes, want 8 zero bytes", len(got))
	}
	r.Byte()
	r.Fail("another")
	if r.Err() != first || r.Len() != 0 {
		t.Errorf("Err = %v, Len = %d: the first failure must stick", r.Err(), r.Len())
	}
}

func TestFailures(t *testing.T) {
	cases := map[string]func(r *Reader){
		"byte":    func(r *Reader) { r.Byte() },
		"uvarint": func(r *Reader) { r.Uvarint() },
		"varint":  func(r *Reader) { r.Varint() },
		"fixed":   func(r *Reader) { r.Fixed(1) },
		"str":     func(r *Reader) { r.Str() },
	}
	for name, read := range cases {
		r := NewSharedReader(nil, errBad)
		read(&r)
		if !errors.Is(r.Err(), errBad) {
			t.Errorf("%s on nothing: Err = %v", name, r.Err())
		}
	}
	r := NewReader(binary.AppendVarint(nil, 6), errBad)
	r.IntIn(0, 5)
	if !errors.Is(r.Err(), errBad) {
		t.Errorf("IntIn out of range: Err = %v", r.Err())
	}
	r = NewReader(binary.AppendUvarint([]byte{}, 3), errBad)
	r.Length(1)
	if !errors.Is(r.Err(), errBad) {
		t.Errorf("Length past end: Err = %v", r.Err())
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte{1, 2, 'a', 'b', 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewSharedReader(b, errBad)
		for r.Err() == nil && r.Len() > 0 {
			switch r.Byte() % 6 {
			case 0:
				r.Uvarint()
			case 1:
				r.Varint()
			case 2:
				r.Str()
			case 3:
				r.Bytes()
			case 4:
				r.Fixed(3)
			case 5:
				r.Length(2)
			}
		}
		if r.Err() != nil && r.Len() != 0 {
			t.Fatalf("failed with %d bytes left", r.Len())
		}
	})
}
