package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// robustnessCases are the cases of what a store must survive: dumps at rest, canceled contexts, large values, malformed tokens.
var robustnessCases = []testCase{
	{
		name:        "HashedAtRest",
		explanation: "A server-side store files sessions under a hash of the token, never the token itself: a dump of the store holds no usable token.",
		f: func(t *testing.T, h *harness) {
			if h.cfg.atRest == nil {
				t.Fatal("storetest: give AtRest, or say with Instead what the store keeps in place of a dump")
			}
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			dump, err := h.cfg.atRest()
			if err != nil {
				t.Fatalf("dump: %v", err)
			}
			if len(dump) == 0 {
				t.Fatal("the dump is empty")
			}
			if bytes.Contains(dump, []byte(tok[:16])) {
				t.Fatal("the store holds the token itself")
			}
		},
	},
	{
		name:        "CanceledContext",
		explanation: "A write with a canceled context fails with an error wrapping context.Canceled and changes nothing.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			ctx, cancel := context.WithCancel(h.ctx)
			cancel()
			if _, err := h.s.Create(ctx, h.mint(), sessionkit.Record{Meta: meta(time.Hour)}); !errors.Is(err, context.Canceled) {
				t.Fatalf("Create: %v, want context.Canceled", err)
			}
			d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "a", Value: enc(2)}}, IdleDeadline: time.Now().Add(time.Hour)}
			if _, err := h.s.Commit(ctx, tok, d); !errors.Is(err, context.Canceled) {
				t.Fatalf("Commit: %v, want context.Canceled", err)
			}
			if err := h.s.Delete(ctx, tok); !errors.Is(err, context.Canceled) {
				t.Fatalf("Delete: %v, want context.Canceled", err)
			}
			if rec := h.mustLoad(tok); !bytes.Equal(rec.Values["a"], enc(1)) {
				t.Fatal("a canceled Commit changed the session")
			}
		},
	},
	{
		name:        "LargeValues",
		explanation: "A 512 KiB value round-trips byte for byte.",
		f: func(t *testing.T, h *harness) {
			big := bytes.Repeat([]byte("0123456789abcdef"), 32<<10)
			tok := h.create(meta(time.Hour), map[string][]byte{"big": big})
			tok = h.commit(tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "big2", Value: big}}, IdleDeadline: time.Now().Add(time.Hour)})
			rec := h.mustLoad(tok)
			if !bytes.Equal(rec.Values["big"], big) || !bytes.Equal(rec.Values["big2"], big) {
				t.Fatal("a large value did not round-trip")
			}
		},
	},
	{
		name:        "MalformedTokens",
		explanation: "Load of any string, garbage included, returns found=false and a nil error, never a panic or a system error.",
		f: func(t *testing.T, h *harness) {
			good := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			for _, s := range []string{"", "x", "\x00\xff", strings.Repeat("A", 43), strings.Repeat("z", 10<<10),
				string(good[:len(good)-1]), string(good) + "x", "a b;c=d", "../../etc/passwd"} {
				if _, found := h.load(sessionkit.Token(s)); found {
					t.Fatalf("Load(%.20q) found a session", s)
				}
			}
		},
	},
}
