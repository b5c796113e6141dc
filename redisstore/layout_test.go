package redisstore

import (
	"strings"
	"testing"
)

// FuzzField checks that every session key maps to a field that maps back to
// it and is never a metadata field.
func FuzzField(f *testing.F) {
	for _, k := range []string{"", "#", "##", "#p", "#v", "cart", "a#b", "\\x00"} {
		f.Add(k)
	}
	meta := []string{fieldVersion, fieldPrincipal, fieldCreated, fieldDeadline, fieldIdle, fieldRemember, fieldGen}
	f.Fuzz(func(t *testing.T, k string) {
		fld := field(k)
		back, ok := userKey(fld)
		if !ok || back != k {
			t.Fatalf("userKey(field(%q)) = %q, %v", k, back, ok)
		}
		for _, m := range meta {
			if fld == m {
				t.Fatalf("key %q stored as metadata field %q", k, m)
			}
		}
		if _, ok := userKey(k); !ok && !strings.HasPrefix(k, "#") {
			t.Fatalf("userKey(%q) says metadata", k)
		}
	})
}
