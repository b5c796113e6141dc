package token

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := New()
		if !Valid(tok) {
			t.Fatalf("New() = %q is not Valid", tok)
		}
		if seen[tok] {
			t.Fatalf("New() repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestValid(t *testing.T) {
	good := New()
	for _, s := range []string{
		"",
		good[:Len-1],
		good + "A",
		strings.Repeat("=", Len),
		good[:Len-1] + "+",
		good[:Len-1] + "/",
		good[:Len-1] + "B", // non-zero padding bits
		strings.Repeat("a", 10000),
	} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
	if !Valid(strings.Repeat("A", Len)) {
		t.Error("all-A token rejected")
	}
}

func TestShort(t *testing.T) {
	tok := New()
	s := Short(tok)
	if len(s) != 16 || strings.Contains(tok, s) {
		t.Fatalf("Short(%q) = %q", tok, s)
	}
	if Short("") != "" {
		t.Fatal("Short of empty token is not empty")
	}
}

func FuzzValid(f *testing.F) {
	f.Add(New())
	f.Add("")
	f.Add(strings.Repeat("A", Len))
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		// A valid token decodes to 32 bytes and encodes back to itself.
		if len(s) != Len {
			t.Fatalf("valid token of length %d", len(s))
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("valid token %q does not decode to 32 bytes: %v", s, err)
		}
		if back := base64.RawURLEncoding.EncodeToString(b); back != s {
			t.Fatalf("token %q re-encodes as %q", s, back)
		}
	})
}
