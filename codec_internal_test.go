package sessionkit

import (
	"math"
	"testing"
)

// FuzzDecodeInto checks Get's typed fast path against Decode: whatever
// decodeInto accepts, Decode accepts as the same value of the same type, and
// whatever Decode reads as an int, int64, string or bool, decodeInto reads
// too.
func FuzzDecodeInto(f *testing.F) {
	c := BinaryCodec{}
	for _, v := range []any{0, -1, 42, math.MaxInt, math.MinInt, int64(7), "", "alice", true, false, int32(5), 1.5, []string{"x"}} {
		b, err := c.Encode(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := c.Decode(b)
		check := func(got any, ok bool) {
			t.Helper()
			switch {
			case ok && err != nil:
				t.Fatalf("decodeInto read %x as %#v, Decode fails: %v", b, got, err)
			case ok && got != want:
				t.Fatalf("decodeInto read %x as %#v, Decode as %#v", b, got, want)
			case !ok && err == nil && sameType(got, want):
				t.Fatalf("decodeInto refused %x, which Decode reads as %#v", b, want)
			}
		}
		var i int
		ok := decodeInto(b, &i)
		check(i, ok)
		var i64 int64
		ok = decodeInto(b, &i64)
		check(i64, ok)
		var s string
		ok = decodeInto(b, &s)
		check(s, ok)
		var bo bool
		ok = decodeInto(b, &bo)
		check(bo, ok)
		var fl float64
		if decodeInto(b, &fl) {
			t.Fatal("decodeInto read a float64")
		}
	})
}

func sameType(a, b any) bool {
	switch a.(type) {
	case int:
		_, ok := b.(int)
		return ok
	case int64:
		_, ok := b.(int64)
		return ok
	case string:
		_, ok := b.(string)
		return ok
	case bool:
		_, ok := b.(bool)
		return ok
	}
	return false
}
