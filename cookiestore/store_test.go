package cookiestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/storetest"
)

// Fixed keys, so that the committed fuzz corpus opens.
const (
	hexKey1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	hexKey2 = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
)

func keys(t testing.TB, s string) []cookiestore.Key {
	t.Helper()
	k, err := cookiestore.ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newStore(t testing.TB, cfg cookiestore.Config) *cookiestore.Store {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = keys(t, hexKey1)
	}
	s, err := cookiestore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Reasons for the cases a client-side store cannot pass.
var (
	skipConcurrent = []storetest.Option{
		storetest.Skip("ConcurrentCommits", "each request reseals its own copy of the session and the client keeps the last response: concurrent commits cannot merge without server state"),
		storetest.Skip("ConcurrentUpdates", "Update is atomic only within a request: concurrent updates each start from the cookie they were sent, without server state to compare and set"),
		storetest.Skip("HashedAtRest", "no server state: nothing is at rest on the server"),
		storetest.Skip("Principals", "client-side sessions cannot be listed: Sessions returns ErrNotSupported; RevokeAll is tested by TestRevokeAll"),
	}
	skipRevoke = []storetest.Option{
		storetest.Skip("Renew", "without Generations and RevokeSessions the old cookie still opens, to the session as it was, until its deadlines; TestConformanceRevocable runs this case"),
		storetest.Skip("DestroyedNotRecreated", "without Generations and RevokeSessions a deleted cookie still opens until its deadlines; TestConformanceRevocable runs this case"),
	}
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  cookiestore.Config
	}{
		{"default", cookiestore.Config{}},
		{"gcm-zstd", cookiestore.Config{Cipher: cookiestore.AES256GCM, Compression: cookiestore.Zstd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) sessionkit.Store { return newStore(t, tc.cfg) },
				append(skipConcurrent, skipRevoke...)...)
		})
	}
}

// newGenerations returns a Generations store holding the generations the
// conformance suite's sessions claim (alice 7, bob 3): with Generations, a
// session seals its principal's current generation, whatever the record
// passed to Create says.
func newGenerations(t testing.TB) *memstore.Store {
	t.Helper()
	mem := memstore.New()
	t.Cleanup(func() { mem.Close() })
	for p, n := range map[string]int{"alice": 7, "bob": 3} {
		for range n {
			if _, err := mem.Bump(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	return mem
}

// TestConformanceRevocable runs the suite with Generations and
// RevokeSessions, where Renew and Delete revoke the token they end.
func TestConformanceRevocable(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		return newStore(t, cookiestore.Config{Generations: newGenerations(t), RevokeSessions: true})
	}, skipConcurrent...)
}

func testMeta() sessionkit.Meta {
	now := time.Now()
	return sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour)}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestTooLarge: a session over the budget is never sealed, and the previous
// token still opens. It also makes the conformance case LargeValues
// meaningful: a 512 KiB value fits only because it compresses well; 512 KiB
// of random bytes does not.
func TestTooLarge(t *testing.T) {
	s := newStore(t, cookiestore.Config{})
	ctx := context.Background()
	tok, err := s.Create(ctx, "", sessionkit.Record{Meta: testMeta(), Values: map[string][]byte{"a": []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{6000, 512 << 10} {
		d := sessionkit.Delta{Set: map[string][]byte{"big": randomBytes(n)}, IdleDeadline: time.Now().Add(time.Hour)}
		if _, err := s.Commit(ctx, tok, d); !errors.Is(err, sessionkit.ErrTooLarge) {
			t.Fatalf("a commit of %d random bytes: %v, want ErrTooLarge", n, err)
		}
	}
	if _, err := s.Create(ctx, "", sessionkit.Record{Meta: testMeta(), Values: map[string][]byte{"big": randomBytes(6000)}}); !errors.Is(err, sessionkit.ErrTooLarge) {
		t.Fatalf("a create of 6000 random bytes: %v, want ErrTooLarge", err)
	}
	rec, found, err := s.Load(ctx, tok)
	if err != nil || !found || string(rec.Values["a"]) != "1" {
		t.Fatalf("the previous token after a failed commit: %v %v %v", rec, found, err)
	}
	// What fits the budget exactly is sealed.
	tok, err = s.Create(ctx, "", sessionkit.Record{Meta: testMeta(), Values: map[string][]byte{"big": randomBytes(5600)}})
	if err != nil || len(tok) > s.MaxTokenLen() {
		t.Fatalf("5600 random bytes: %d characters, %v", len(tok), err)
	}
}

// TestConcurrentSealOpen seals and opens distinct compressible sessions
// from several goroutines, so that -race sees the shared compressors and
// their scratch buffers.
func TestConcurrentSealOpen(t *testing.T) {
	for _, z := range []cookiestore.Compression{cookiestore.S2, cookiestore.Zstd} {
		s := newStore(t, cookiestore.Config{Compression: z})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 50 {
					v := bytes.Repeat([]byte(fmt.Sprintf("goroutine %d value %d; ", g, i)), 60)
					tok, err := s.Create(context.Background(), "", sessionkit.Record{Meta: testMeta(), Values: map[string][]byte{"v": v}})
					if err != nil {
						t.Error(err)
						return
					}
					rec, found, err := s.Load(context.Background(), tok)
					if err != nil || !found || !bytes.Equal(rec.Values["v"], v) {
						t.Errorf("compression %d: a session did not round-trip", z)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
