package cookiestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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

// The cases a client-side store cannot pass, why, and what it does in
// their place.
var (
	clientSide = []storetest.Option{
		storetest.Instead("ExpiryEvents", "a cookie store keeps nothing on the server, so nothing of it expires there: an expired cookie is refused when it comes back, and no one is told (TestNoExpiryEvents)",
			func(t *testing.T, s sessionkit.Store) {
				if _, ok := s.(sessionkit.ExpiryNotifier); ok {
					t.Fatal("the store reports expiries now: run the ExpiryEvents case on it")
				}
			}),
		storetest.Instead("ExpiringGenerations", "the cookie store keeps no counters: its revocations live in Config.Generations, kept only until the session's deadline when that store can expire them (TestRevocationExpires, TestRevocationOutlivesEveryCopy)",
			func(t *testing.T, s sessionkit.Store) {
				if _, ok := s.(sessionkit.Generations); ok {
					t.Fatal("the store keeps counters now: run the Generations and ExpiringGenerations cases on it")
				}
			}),
		storetest.Instead("ConcurrentCommits", "each request reseals its own copy of the session and the client keeps the last response: concurrent commits cannot merge without server state",
			func(t *testing.T, s sessionkit.Store) { eachOwnCopy(t, s, false) }),
		storetest.Instead("ConcurrentUpdates", "Update is atomic only within a request: concurrent updates each start from the cookie they were sent, without server state to compare and set",
			func(t *testing.T, s sessionkit.Store) { eachOwnCopy(t, s, true) }),
		storetest.Instead("HashedAtRest", "no server state: nothing is at rest on the server, and the session travels sealed",
			sealedInTransit),
		storetest.Instead("Principals", "client-side sessions cannot be listed; RevokeAll is tested by TestRevokeAll",
			func(t *testing.T, s sessionkit.Store) {
				if _, err := s.(sessionkit.Principals).Sessions(context.Background(), "alice"); !errors.Is(err, sessionkit.ErrNotSupported) {
					t.Fatalf("Sessions: %v, want ErrNotSupported", err)
				}
			}),
	}
	withoutRevocation = []storetest.Option{
		storetest.Instead("Generations", "the cookie store keeps no counters; Config.Generations names the store that does (TestConformanceRevocable), and without it there is no log out everywhere",
			func(t *testing.T, s sessionkit.Store) {
				if _, err := s.(sessionkit.Principals).RevokeAll(context.Background(), "alice"); !errors.Is(err, sessionkit.ErrNotSupported) {
					t.Fatalf("RevokeAll: %v, want ErrNotSupported", err)
				}
			}),
		storetest.Instead("Renew", "without Generations and RevokeSessions the old cookie still opens, to the session as it was, until its deadlines; TestConformanceRevocable runs this case",
			func(t *testing.T, s sessionkit.Store) {
				old := create(t, s, map[string][]byte{"a": []byte("1")})
				next, err := s.Renew(context.Background(), old, sessionkit.NewToken())
				if err != nil || next == old {
					t.Fatalf("Renew = %q, %v; want a new token", next, err)
				}
				mustOpen(t, s, next, "a", "1")
				mustOpen(t, s, old, "a", "1")
			}),
		storetest.Instead("DestroyedNotRecreated", "without Generations and RevokeSessions a deleted cookie still opens until its deadlines; TestConformanceRevocable runs this case",
			func(t *testing.T, s sessionkit.Store) {
				tok := create(t, s, map[string][]byte{"a": []byte("1")})
				if err := s.Delete(context.Background(), tok); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				mustOpen(t, s, tok, "a", "1")
			}),
		storetest.Instead("ConcurrentRenew", "without Generations and RevokeSessions nothing on the server knows a cookie was renewed: every renew of one cookie succeeds, each with its own copy, and the old cookie still opens; TestConformanceRevocable runs this case",
			func(t *testing.T, s sessionkit.Store) {
				old := create(t, s, map[string][]byte{"a": []byte("1")})
				for range 2 {
					next, err := s.Renew(context.Background(), old, sessionkit.NewToken())
					if err != nil || next == old {
						t.Fatalf("Renew = %q, %v; want a new token", next, err)
					}
					mustOpen(t, s, next, "a", "1")
				}
				mustOpen(t, s, old, "a", "1")
			}),
		storetest.Instead("RenewDeleted", "without Generations and RevokeSessions a deleted cookie still opens, and renews, until its deadlines; TestConformanceRevocable runs this case",
			func(t *testing.T, s sessionkit.Store) {
				tok := create(t, s, map[string][]byte{"a": []byte("1")})
				if err := s.Delete(context.Background(), tok); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				next, err := s.Renew(context.Background(), tok, sessionkit.NewToken())
				if err != nil {
					t.Fatalf("Renew: %v", err)
				}
				mustOpen(t, s, next, "a", "1")
			}),
	}
)

func create(t *testing.T, s sessionkit.Store, values map[string][]byte) sessionkit.Token {
	t.Helper()
	tok, err := s.Create(context.Background(), sessionkit.NewToken(), sessionkit.Record{Meta: testMeta(), Values: values})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return tok
}

// mustOpen checks that tok opens to a session whose key holds value.
func mustOpen(t *testing.T, s sessionkit.Store, tok sessionkit.Token, key, value string) {
	t.Helper()
	rec, ok, err := s.Load(context.Background(), tok)
	if err != nil || !ok || string(rec.Values[key]) != value {
		t.Fatalf("Load = %v, %v, %v; want %s=%s", rec.Values, ok, err, key, value)
	}
}

// eachOwnCopy: concurrent writes to one cookie, by Commit or by Update,
// each return a cookie holding the session as it was sent plus that
// write, and nothing of the others.
func eachOwnCopy(t *testing.T, s sessionkit.Store, update bool) {
	tok := create(t, s, map[string][]byte{"seed": []byte("0")})
	const writers = 8
	toks := make([]sessionkit.Token, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			key, deadline := fmt.Sprint("k", w), time.Now().Add(time.Hour)
			if update {
				toks[w], errs[w] = s.Update(context.Background(), tok, key, deadline, func([]byte, bool) ([]byte, error) { return []byte("1"), nil })
			} else {
				toks[w], errs[w] = s.Commit(context.Background(), tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: key, Value: []byte("1")}}, IdleDeadline: deadline})
			}
		})
	}
	wg.Wait()
	for w := range writers {
		if errs[w] != nil {
			t.Fatalf("writer %d: %v", w, errs[w])
		}
		rec, ok, err := s.Load(context.Background(), toks[w])
		if err != nil || !ok || len(rec.Values) != 2 || string(rec.Values["seed"]) != "0" || string(rec.Values[fmt.Sprint("k", w)]) != "1" {
			t.Fatalf("writer %d's cookie opens to %v, %v, %v; want the seed and its own key", w, rec.Values, ok, err)
		}
	}
}

// sealedInTransit: the cookie carries neither the session's values nor
// its principal in the clear.
func sealedInTransit(t *testing.T, s sessionkit.Store) {
	m := testMeta()
	m.Principal = "alice@example.com"
	value := []byte("a value nobody may read from the cookie")
	tok, err := s.Create(context.Background(), sessionkit.NewToken(), sessionkit.Record{Meta: m, Values: map[string][]byte{"secret": value}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if bytes.Contains([]byte(tok), value[:16]) || bytes.Contains([]byte(tok), []byte(m.Principal)) {
		t.Fatal("the cookie holds the session in the clear")
	}
	mustOpen(t, s, tok, "secret", string(value))
}

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
				append(clientSide, withoutRevocation...)...)
		})
	}
}

// newGenerations returns a Generations store holding the generations the
// conformance suite's sessions claim (alice 7, bob 3): with Generations, a
// session seals its principal's current generation, whatever the record
// passed to Create says.
func newGenerations(t testing.TB) *memstore.Store {
	t.Helper()
	mem := memstore.New(memstore.Config{})
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
	}, append(clientSide, storetest.Instead("Generations", "the counters live in Config.Generations, another store that passes this case itself; here a bump revokes the principal's cookies",
		func(t *testing.T, s sessionkit.Store) {
			m := testMeta()
			m.Principal = "alice"
			tok, err := s.Create(context.Background(), sessionkit.NewToken(), sessionkit.Record{Meta: m})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.(sessionkit.Principals).RevokeAll(context.Background(), "alice"); err != nil {
				t.Fatalf("RevokeAll: %v", err)
			}
			if _, ok, err := s.Load(context.Background(), tok); ok || err != nil {
				t.Fatalf("Load after RevokeAll: found %v, %v; want not found", ok, err)
			}
		}))...)
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
		d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "big", Value: randomBytes(n)}}, IdleDeadline: time.Now().Add(time.Hour)}
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

// barrierGenerations, once armed, holds every read of a session's
// revocation counter, after the read, until n reads arrived, so that n renews of one cookie
// all open it before any of them revokes it.
type barrierGenerations struct {
	sessionkit.Generations
	armed   atomic.Bool
	arrived chan struct{}
	all     chan struct{}
	n       int
}

func (b *barrierGenerations) Generation(ctx context.Context, key string) (uint64, error) {
	n, err := b.Generations.Generation(ctx, key)
	if b.armed.Load() && strings.HasPrefix(key, "sessionkit/sid/") {
		b.arrived <- struct{}{}
		select {
		case <-b.all:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return n, err
}

// TestConcurrentRenewRevocable: two renews of one cookie that both opened
// it before either revoked it; exactly one wins, the revocation counter
// deciding.
func TestConcurrentRenewRevocable(t *testing.T) {
	gens := &barrierGenerations{Generations: newGenerations(t), arrived: make(chan struct{}), all: make(chan struct{}), n: 2}
	s := newStore(t, cookiestore.Config{Generations: gens, RevokeSessions: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	old, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: testMeta(), Values: map[string][]byte{"a": []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	gens.armed.Store(true)
	go func() {
		for range gens.n {
			select {
			case <-gens.arrived:
			case <-ctx.Done():
				return
			}
		}
		close(gens.all)
	}()
	var wg sync.WaitGroup
	errs := make([]error, gens.n)
	for i := range gens.n {
		wg.Go(func() { _, errs[i] = s.Renew(ctx, old, sessionkit.NewToken()) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, sessionkit.ErrNotFound):
			t.Fatalf("a losing renew: %v, want ErrNotFound", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent renews won, want 1 (%v)", won, gens.n, errs)
	}
}

// TestZstdSmallSession seals sessions just over CompressMin with Zstd, at
// sizes for which the encoder leaves the frame's content size out: each
// must open again, never come back as a fresh session.
func TestZstdSmallSession(t *testing.T) {
	s := newStore(t, cookiestore.Config{Compression: cookiestore.Zstd, CompressMin: 128})
	for _, n := range []int{130, 200, 255, 256, 400} {
		v := bytes.Repeat([]byte("ab"), n/2)
		tok, err := s.Create(context.Background(), "", sessionkit.Record{Meta: testMeta(), Values: map[string][]byte{"v": v}})
		if err != nil {
			t.Fatal(err)
		}
		rec, ok, err := s.Load(context.Background(), tok)
		if !ok || err != nil || !bytes.Equal(rec.Values["v"], v) {
			t.Fatalf("a %d-byte zstd-sealed session does not open: ok=%v err=%v", n, ok, err)
		}
	}
}
