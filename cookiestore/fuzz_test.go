package cookiestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
)

// seedRecord is a session whose deadlines lie far ahead, so that tokens
// sealed from it keep opening in the committed corpus.
func seedRecord(values map[string][]byte) sessionkit.Record {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	return sessionkit.Record{
		Meta: sessionkit.Meta{Principal: "alice", Created: created, IdleDeadline: far, Deadline: far,
			IdleTimeout: 30 * time.Minute, Persistent: true, Generation: 3},
		Values: values,
	}
}

// seedTokens seals a few sessions with every cipher and compression, and
// with both keys of the fuzzed store's ring.
func seedTokens(tb testing.TB) map[string]string {
	tb.Helper()
	long := bytes.Repeat([]byte("cart item 1234, "), 80)
	records := map[string]sessionkit.Record{
		"empty": seedRecord(nil),
		"small": seedRecord(map[string][]byte{"user_id": {1, 5, 0xca, 0xf0, 5}, "csrf": []byte("q3Zt8Xr9LmP0vW2yKcD5nB7hJ4fG6sA1eR8uI0oT3pQ"), "": {}}),
		"large": seedRecord(map[string][]byte{"cart": long, "theme": []byte("dark")}),
	}
	tokens := map[string]string{}
	for _, ring := range []string{hexKey1, hexKey2 + ",open:" + hexKey1} {
		for _, c := range []cookiestore.Cipher{cookiestore.XChaCha20Poly1305, cookiestore.AES256GCM} {
			for _, z := range []cookiestore.Compression{cookiestore.S2, cookiestore.Zstd, cookiestore.NoCompression} {
				s := newStore(tb, cookiestore.Config{Keys: keys(tb, ring), Cipher: c, Compression: z})
				for name, rec := range records {
					if name != "large" && z != cookiestore.S2 {
						continue // compression changes nothing below CompressMin
					}
					tok, err := s.Create(context.Background(), "", rec)
					if err != nil {
						tb.Fatal(err)
					}
					tokens[fmt.Sprintf("%s-%s-%d-key%d", name, c, z, len(ring)/64)] = string(tok)
				}
			}
		}
	}
	return tokens
}

// FuzzOpen feeds any token to Load. Property: it never panics nor fails,
// and a token that opens reseals and opens to the same record.
func FuzzOpen(f *testing.F) {
	for _, tok := range seedTokens(f) {
		f.Add(tok)
	}
	f.Add("")
	f.Add("AQAA")
	s := newStore(f, cookiestore.Config{Keys: keys(f, hexKey1+",open:"+hexKey2)})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string) {
		valid := s.ValidToken(tok)
		rec, found, err := s.Load(ctx, sessionkit.Token(tok))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if !found {
			return
		}
		if !valid {
			t.Fatal("a token ValidToken refused opened")
		}
		again, err := s.Create(ctx, "", rec)
		if errors.Is(err, sessionkit.ErrTooLarge) {
			return // another cipher's nonce may not fit
		}
		if err != nil {
			t.Fatalf("reseal: %v", err)
		}
		rec2, found, err := s.Load(ctx, again)
		if err != nil || !found {
			t.Fatalf("the resealed token does not open: %v", err)
		}
		if !sameRecord(rec, rec2) {
			t.Fatalf("resealed record differs:\n%+v\n%+v", rec.Meta, rec2.Meta)
		}
	})
}

// sameRecord compares records to the millisecond, the format's precision
// (Load may report an idle deadline of its own, see Store.Load).
func sameRecord(a, b sessionkit.Record) bool {
	m, n := a.Meta, b.Meta
	return m.Principal == n.Principal && m.Persistent == n.Persistent && m.Generation == n.Generation &&
		m.IdleTimeout == n.IdleTimeout && sameTime(m.Created, n.Created) && sameTime(m.IdleDeadline, n.IdleDeadline) &&
		sameTime(m.Deadline, n.Deadline) && maps.EqualFunc(a.Values, b.Values, bytes.Equal)
}

func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

// TestCorpusOpens checks that the committed corpus still opens: a change of
// the format that breaks cookies in clients' hands shows here.
func TestCorpusOpens(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpen", "seed-*"))
	if len(files) == 0 {
		t.Fatal("no committed corpus")
	}
	s := newStore(t, cookiestore.Config{Keys: keys(t, hexKey1+",open:"+hexKey2)})
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var tok string
		if _, err := fmt.Sscanf(string(bytes.TrimPrefix(b, []byte("go test fuzz v1\n"))), "string(%q)", &tok); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		rec, found, err := s.Load(context.Background(), sessionkit.Token(tok))
		if err != nil || !found || rec.Principal != "alice" {
			t.Fatalf("%s does not open: %v", filepath.Base(file), err)
		}
	}
}
