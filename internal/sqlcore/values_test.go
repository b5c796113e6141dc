package sqlcore

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

// FuzzValues checks that every key the store accepts, and every value,
// survives the JSON object the values are kept in.
func FuzzValues(f *testing.F) {
	f.Add("cart", []byte{1, 2, 3})
	f.Add("", []byte{})
	f.Add(`"\`, []byte{0})
	f.Add("\u2028é", []byte("<&>"))
	f.Add("a\x00", []byte{})
	f.Add("\xff", []byte{})
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		data, err := encodeSet(maps.All(map[string][]byte{key: value}))
		if checkKey(key) != nil {
			if !errors.Is(err, ErrKey) {
				t.Fatalf("key %q: %v, want ErrKey", key, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		values, err := decodeValues([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := values[key]; !ok || !bytes.Equal(got, value) || len(values) != 1 {
			t.Fatalf("%q: %q round-tripped as %q", key, value, values)
		}
	})
}
