// Package storetest checks that a sessionkit.Store keeps the Store contract.
// Every store in sessionkit passes it, and a third-party store uses it in
// a few lines, giving a dump of what it keeps at rest:
//
//	func TestConformance(t *testing.T) {
//		var s *mystore.Store
//		storetest.Run(t, func(t *testing.T) sessionkit.Store {
//			s = mystore.New(...)
//			return s
//		}, storetest.AtRest(func() ([]byte, error) { return s.Dump() }))
//	}
//
// Each case is a subtest named after what it checks; the explanation of a
// failing case says what the contract requires. A store that cannot meet a
// case by its nature (a client-side store has no shared copy to update
// concurrently) names it with Instead, says why, and checks what it does
// in its place; nothing is skipped silently.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Option adjusts a Run.
type Option func(*config)

type config struct {
	instead map[string]instead
	atRest  func() ([]byte, error)
}

type instead struct {
	reason string
	check  func(t *testing.T, s sessionkit.Store)
}

// Instead runs check, on a new store, in place of the named case, which
// the store cannot meet by its nature; the reason shows in the test
// output. check asserts what the store guarantees instead.
func Instead(name, reason string, check func(t *testing.T, s sessionkit.Store)) Option {
	return func(c *config) { c.instead[name] = instead{reason, check} }
}

// AtRest gives a function that dumps everything the store keeps at rest
// (keys and values), for the case that checks tokens are stored only as
// hashes. A store without a dump must say what it does instead.
func AtRest(dump func() ([]byte, error)) Option {
	return func(c *config) { c.atRest = dump }
}

type testCase struct {
	name        string
	explanation string
	f           func(t *testing.T, h *harness)
}

// Names returns the names of the cases, in the order Run runs them.
func Names() []string {
	var names []string
	for _, c := range cases {
		names = append(names, c.name)
	}
	return names
}

// Run runs every case against a store that newStore makes; each case gets a
// new store. Run fails the test if an Instead names no case.
func Run(t *testing.T, newStore func(t *testing.T) sessionkit.Store, opts ...Option) {
	cfg := config{instead: map[string]instead{}}
	for _, o := range opts {
		o(&cfg)
	}
	for name := range cfg.instead {
		if !slices.Contains(Names(), name) {
			t.Errorf("storetest: Instead names no case %q", name)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if in, ok := cfg.instead[c.name]; ok {
				t.Logf("instead of this case: %s", in.reason)
				in.check(t, newStore(t))
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			h := &harness{t: t, ctx: ctx, s: newStore(t), cfg: &cfg}
			defer func() {
				if t.Failed() {
					t.Logf("the contract: %s", c.explanation)
				}
			}()
			c.f(t, h)
		})
	}
}

// harness holds one case's store and helpers.
type harness struct {
	t   *testing.T
	ctx context.Context
	s   sessionkit.Store
	cfg *config
}

func (h *harness) mint() sessionkit.Token {
	h.t.Helper()
	if m, ok := h.s.(sessionkit.Minter); ok {
		t, err := m.Mint(h.ctx)
		if err != nil {
			h.t.Fatalf("Mint: %v", err)
		}
		return t
	}
	return sessionkit.NewToken()
}

func meta(idle time.Duration) sessionkit.Meta {
	now := time.Now()
	return sessionkit.Meta{
		Created: now, IdleTimeout: idle,
		IdleDeadline: now.Add(idle), Deadline: now.Add(24 * time.Hour),
	}
}

func (h *harness) create(m sessionkit.Meta, values map[string][]byte) sessionkit.Token {
	h.t.Helper()
	t, err := h.s.Create(h.ctx, h.mint(), sessionkit.Record{Meta: m, Values: values})
	if err != nil {
		h.t.Fatalf("Create: %v", err)
	}
	return t
}

func (h *harness) load(t sessionkit.Token) (sessionkit.Record, bool) {
	h.t.Helper()
	rec, found, err := h.s.Load(h.ctx, t)
	if err != nil {
		h.t.Fatalf("Load: %v", err)
	}
	return rec, found
}

func (h *harness) mustLoad(t sessionkit.Token) sessionkit.Record {
	h.t.Helper()
	rec, found := h.load(t)
	if !found {
		h.t.Fatal("Load: session not found")
	}
	return rec
}

func (h *harness) mustNotFind(t sessionkit.Token, why string) {
	h.t.Helper()
	if _, found := h.load(t); found {
		h.t.Fatalf("Load found a session %s", why)
	}
}

func enc(v any) []byte {
	b, err := sessionkit.BinaryCodec{}.Encode(v)
	if err != nil {
		panic(err)
	}
	return b
}

func dec(t *testing.T, b []byte) any {
	t.Helper()
	v, err := sessionkit.BinaryCodec{}.Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return v
}

func sameTime(a, b time.Time) bool {
	d := a.Sub(b)
	return d < time.Millisecond && d > -time.Millisecond
}

var cases = []testCase{
	{
		name:        "RoundTrip",
		explanation: "Load returns what Create stored: every value's bytes, the principal, the deadlines (to the millisecond), the idle timeout, the remember-me flag and the generation.",
		f: func(t *testing.T, h *harness) {
			values := map[string][]byte{
				"string": enc("héllo"), "bytes": enc([]byte{0, 1, 2, 255}), "int": enc(-42),
				"uint64": enc(uint64(1 << 63)), "float": enc(3.25), "bool": enc(true),
				"time": enc(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)), "strings": enc([]string{"a", "", "c"}),
				"map": enc(map[string]any{"n": 1, "s": []any{"x", 2.5}}), "empty": {}, "nil": enc(nil),
			}
			m := meta(time.Hour)
			m.Principal, m.Persistent, m.Generation = "alice", true, 7
			tok := h.create(m, values)
			rec := h.mustLoad(tok)
			if !maps.EqualFunc(rec.Values, values, bytes.Equal) {
				t.Fatalf("values = %v, want %v", rec.Values, values)
			}
			g := rec.Meta
			if g.Principal != "alice" || !g.Persistent || g.Generation != 7 || g.IdleTimeout != time.Hour ||
				!sameTime(g.Created, m.Created) || !sameTime(g.IdleDeadline, m.IdleDeadline) || !sameTime(g.Deadline, m.Deadline) {
				t.Fatalf("meta = %+v, want %+v", g, m)
			}
			if dec(t, rec.Values["map"]).(map[string]any)["n"] != 1 {
				t.Fatal("decoded map lost its value")
			}
		},
	},
	{
		name:        "NotFound",
		explanation: "A token that names no session loads with found=false and a nil error, and every write to it returns ErrNotFound without creating it.",
		f: func(t *testing.T, h *harness) {
			tok := h.mint()
			h.mustNotFind(tok, "for a token never created")
			h.checkWritesNotFound(tok, "a token never created")
		},
	},
	{
		name:        "CommitDelta",
		explanation: "Commit applies only its delta: set keys change, deleted keys go, other keys stay; it moves the idle deadline; a non-nil Meta replaces the metadata.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1), "b": enc(2), "c": enc(3)})
			dl := time.Now().Add(2 * time.Hour)
			tok = h.commit(tok, sessionkit.Delta{Set: map[string][]byte{"a": enc(10), "d": enc(4)}, Deleted: []string{"b"}, IdleDeadline: dl})
			rec := h.mustLoad(tok)
			want := map[string][]byte{"a": enc(10), "c": enc(3), "d": enc(4)}
			if !maps.EqualFunc(rec.Values, want, bytes.Equal) {
				t.Fatalf("values = %v, want %v", rec.Values, want)
			}
			if !sameTime(rec.IdleDeadline, dl) {
				t.Fatalf("idle deadline = %v, want %v", rec.IdleDeadline, dl)
			}
			m := rec.Meta
			m.Principal, m.Generation = "bob", 3
			tok = h.commit(tok, sessionkit.Delta{Meta: &m, IdleDeadline: dl})
			if rec := h.mustLoad(tok); rec.Principal != "bob" || rec.Generation != 3 || len(rec.Values) != 3 {
				t.Fatalf("after a Meta commit: %+v", rec)
			}
		},
	},
	{
		name:        "Touch",
		explanation: "Touch moves the idle deadline and changes nothing else.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			dl := time.Now().Add(3 * time.Hour)
			tok, err := h.s.Touch(h.ctx, tok, dl)
			if err != nil {
				t.Fatalf("Touch: %v", err)
			}
			rec := h.mustLoad(tok)
			if !sameTime(rec.IdleDeadline, dl) || !bytes.Equal(rec.Values["a"], enc(1)) {
				t.Fatalf("after Touch: %+v", rec)
			}
		},
	},
	{
		name:        "ConcurrentCommits",
		explanation: "Commits to different keys of one session, made concurrently, all survive: a store merges deltas instead of writing whole sessions.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"seed": enc(0)})
			const writers, rounds = 4, 10
			var wg sync.WaitGroup
			errs := make(chan error, writers*rounds)
			for w := range writers {
				wg.Go(func() {
					for r := range rounds {
						d := sessionkit.Delta{Set: map[string][]byte{fmt.Sprintf("k%d-%d", w, r): enc(r)}, IdleDeadline: time.Now().Add(time.Hour)}
						if _, err := h.s.Commit(h.ctx, tok, d); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Commit: %v", err)
			}
			rec := h.mustLoad(tok)
			if len(rec.Values) != writers*rounds+1 {
				t.Fatalf("%d keys survived, want %d", len(rec.Values), writers*rounds+1)
			}
		},
	},
	{
		name:        "ConcurrentUpdates",
		explanation: "50 concurrent Updates appending to one key give 50 items: Update is an atomic read-modify-write (compare-and-set with retries, or a lock).",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"other": enc("x")})
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					_, err := h.s.Update(h.ctx, tok, "cart", time.Now().Add(time.Hour), func(old []byte, ok bool) ([]byte, error) {
						var items []string
						if ok {
							v, err := sessionkit.BinaryCodec{}.Decode(old)
							if err != nil {
								return nil, err
							}
							items = v.([]string)
						}
						return enc(append(items, fmt.Sprint(i))), nil
					})
					if err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Update: %v", err)
			}
			rec := h.mustLoad(tok)
			items := dec(t, rec.Values["cart"]).([]string)
			slices.Sort(items)
			if len(slices.Compact(items)) != n {
				t.Fatalf("cart has %d distinct items, want %d", len(items), n)
			}
			if !bytes.Equal(rec.Values["other"], enc("x")) {
				t.Fatal("Update changed another key")
			}
		},
	},
	{
		name:        "UpdateDelete",
		explanation: "An Update whose function returns nil deletes the key; an Update whose function fails writes nothing and returns that error.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1), "b": enc(2)})
			tok, err := h.s.Update(h.ctx, tok, "a", time.Now().Add(time.Hour), func([]byte, bool) ([]byte, error) { return nil, nil })
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			boom := errors.New("boom")
			_, err = h.s.Update(h.ctx, tok, "b", time.Now().Add(time.Hour), func([]byte, bool) ([]byte, error) { return nil, boom })
			if !errors.Is(err, boom) {
				t.Fatalf("Update with a failing function: %v, want its error", err)
			}
			rec := h.mustLoad(tok)
			if _, ok := rec.Values["a"]; ok || !bytes.Equal(rec.Values["b"], enc(2)) {
				t.Fatalf("values = %v", rec.Values)
			}
		},
	},
	{
		name:        "DestroyedNotRecreated",
		explanation: "After Delete, the session is gone, and a late Commit, Touch, Update or Renew returns ErrNotFound without recreating it (a commit racing a logout).",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			if err := h.s.Delete(h.ctx, tok); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			h.mustNotFind(tok, "after Delete")
			h.checkWritesNotFound(tok, "a deleted session")
			if err := h.s.Delete(h.ctx, tok); err != nil {
				t.Fatalf("Delete of a missing session: %v, want nil", err)
			}
		},
	},
	{
		name:        "Renew",
		explanation: "Renew moves the session, data and metadata, to the new token; the old token names nothing afterwards, and a late write to it returns ErrNotFound without recreating it.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.Principal = "alice"
			old := h.create(m, map[string][]byte{"a": enc(1)})
			next, err := h.s.Renew(h.ctx, old, h.mint())
			if err != nil {
				t.Fatalf("Renew: %v", err)
			}
			if next == old {
				t.Fatal("Renew returned the old token")
			}
			rec := h.mustLoad(next)
			if !bytes.Equal(rec.Values["a"], enc(1)) || rec.Principal != "alice" {
				t.Fatalf("renewed session: %+v", rec)
			}
			h.mustNotFind(old, "under the old token after Renew")
			h.checkWritesNotFound(old, "a renewed token")
			h.mustLoad(next)
		},
	},
	{
		name:        "ConcurrentRenew",
		explanation: "Of concurrent Renews of one token, exactly one wins and moves the session; every other returns ErrNotFound (or ErrConflict), and its new token names nothing. Two renews that both succeed leave two copies of one session (a login submitted twice logs in twice); a loser that is told nothing drops the winner's session from the client.",
		f: func(t *testing.T, h *harness) {
			old := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			const n = 8
			next := make([]sessionkit.Token, n)
			for i := range next {
				next[i] = h.mint()
			}
			got := make([]sessionkit.Token, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					got[i], errs[i] = h.s.Renew(h.ctx, old, next[i])
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("renews %d and %d both won", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, sessionkit.ErrNotFound) && !errors.Is(err, sessionkit.ErrConflict):
					t.Fatalf("a losing Renew: %v, want ErrNotFound or ErrConflict", err)
				}
			}
			if winner < 0 {
				t.Fatal("no Renew won")
			}
			if rec := h.mustLoad(got[winner]); !bytes.Equal(rec.Values["a"], enc(1)) {
				t.Fatalf("the winner's session: %+v", rec)
			}
			h.mustNotFind(old, "under the old token after the renews")
			for i := range n {
				if i != winner {
					h.mustNotFind(next[i], "under a losing renew's new token")
				}
			}
		},
	},
	{
		name:        "RenewDeleted",
		explanation: "Renew of a session that was deleted returns ErrNotFound and stores nothing under either token: a renew racing a logout must not bring the session back.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.Principal = "alice"
			tok := h.create(m, map[string][]byte{"a": enc(1)})
			tok = h.commit(tok, sessionkit.Delta{Set: map[string][]byte{"b": enc(2)}, IdleDeadline: time.Now().Add(time.Hour)})
			if err := h.s.Delete(h.ctx, tok); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			next := h.mint()
			if _, err := h.s.Renew(h.ctx, tok, next); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("Renew of a deleted session: %v, want ErrNotFound", err)
			}
			h.mustNotFind(tok, "under the deleted token after Renew")
			h.mustNotFind(next, "under the new token of a deleted session")
			if p, ok := h.s.(sessionkit.Principals); ok {
				if infos, err := p.Sessions(h.ctx, "alice"); err == nil && len(infos) != 0 {
					t.Fatalf("Sessions(alice) after Delete and Renew = %d, want 0", len(infos))
				}
			}
		},
	},
	{
		name:        "IdleExpiry",
		explanation: "A session past its idle deadline loads as not found, at once, whether or not a sweeper has run; Touch before the deadline keeps it alive.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.IdleDeadline = time.Now().Add(200 * time.Millisecond)
			tok := h.create(m, map[string][]byte{"a": enc(1)})
			kept := h.create(m, map[string][]byte{"a": enc(1)})
			_, found := h.load(tok)
			if !found && time.Now().Before(m.IdleDeadline) {
				t.Fatal("session not found before its idle deadline")
			}
			kept, err := h.s.Touch(h.ctx, kept, time.Now().Add(time.Hour))
			if err != nil && time.Now().Before(m.IdleDeadline) {
				t.Fatalf("Touch: %v", err)
			}
			time.Sleep(time.Until(m.IdleDeadline) + 10*time.Millisecond)
			h.mustNotFind(tok, "past its idle deadline")
			h.checkWritesNotFound(tok, "an expired session")
			if err == nil {
				h.mustLoad(kept)
			}
		},
	},
	{
		name:        "AbsoluteExpiry",
		explanation: "A session past its absolute deadline loads as not found, however recently it was used.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.Deadline = time.Now().Add(150 * time.Millisecond)
			tok := h.create(m, map[string][]byte{"a": enc(1)})
			time.Sleep(time.Until(m.Deadline) + 10*time.Millisecond)
			h.mustNotFind(tok, "past its absolute deadline")
		},
	},
	{
		name:        "Principals",
		explanation: "A store implementing Principals lists the live sessions of a principal, follows a principal change made by a Meta commit, and RevokeAll deletes them all and no other.",
		f: func(t *testing.T, h *harness) {
			p, ok := h.s.(sessionkit.Principals)
			if !ok {
				t.Skip("the store does not implement sessionkit.Principals")
			}
			m := meta(time.Hour)
			m.Principal = "alice"
			var alice []sessionkit.Token
			for range 3 {
				alice = append(alice, h.create(m, map[string][]byte{"a": enc(1)}))
			}
			m.Principal = "bob"
			bob := h.create(m, nil)
			anon := h.create(meta(time.Hour), nil)
			rec := h.mustLoad(anon)
			rec.Principal = "alice"
			anon = h.commit(anon, sessionkit.Delta{Meta: &rec.Meta, IdleDeadline: time.Now().Add(time.Hour)})
			alice = append(alice, anon)
			infos, err := p.Sessions(h.ctx, "alice")
			if err != nil || len(infos) != 4 {
				t.Fatalf("Sessions(alice) = %d sessions, %v; want 4", len(infos), err)
			}
			for _, in := range infos {
				if in.Principal != "alice" || len(in.ID) != 64 {
					t.Fatalf("info %+v", in)
				}
			}
			n, err := p.RevokeAll(h.ctx, "alice")
			if err != nil || (n != 4 && n != -1) {
				t.Fatalf("RevokeAll = %d, %v; want 4", n, err)
			}
			for _, tok := range alice {
				h.mustNotFind(tok, "after RevokeAll")
			}
			h.mustLoad(bob)
			if infos, _ := p.Sessions(h.ctx, "alice"); len(infos) != 0 {
				t.Fatalf("Sessions(alice) after RevokeAll = %d", len(infos))
			}
		},
	},
	{
		name:        "Generations",
		explanation: "A store implementing Generations starts every principal at 0 and Bump increments it.",
		f: func(t *testing.T, h *harness) {
			g, ok := h.s.(sessionkit.Generations)
			if !ok {
				t.Skip("the store does not implement sessionkit.Generations")
			}
			p := "gen-" + string(sessionkit.NewToken())[:8]
			if n, err := g.Generation(h.ctx, p); n != 0 || err != nil {
				t.Fatalf("Generation = %d, %v", n, err)
			}
			for want := uint64(1); want <= 2; want++ {
				if n, err := g.Bump(h.ctx, p); n != want || err != nil {
					t.Fatalf("Bump = %d, %v; want %d", n, err, want)
				}
			}
			if n, _ := g.Generation(h.ctx, p); n != 2 {
				t.Fatalf("Generation after two bumps = %d", n)
			}
		},
	},
	{
		name:        "ExpiringGenerations",
		explanation: "A store implementing ExpiringGenerations keeps a counter of BumpUntil until its latest deadline and then forgets it (Generation is 0 again); a counter Bump has bumped is kept for good.",
		f: func(t *testing.T, h *harness) {
			g, ok := h.s.(sessionkit.ExpiringGenerations)
			if !ok {
				t.Skip("the store does not implement sessionkit.ExpiringGenerations")
			}
			name := func() string { return "sid-" + string(sessionkit.NewToken())[:8] }
			short, long, kept, keptAfter := name(), name(), name(), name()
			soon := time.Now().Add(300 * time.Millisecond)
			if n, err := g.BumpUntil(h.ctx, short, soon); n != 1 || err != nil {
				t.Fatalf("BumpUntil = %d, %v; want 1", n, err)
			}
			// long: a later deadline wins over an earlier one.
			g.BumpUntil(h.ctx, long, time.Now().Add(time.Hour))
			if n, err := g.BumpUntil(h.ctx, long, soon); n != 2 || err != nil {
				t.Fatalf("BumpUntil again = %d, %v; want 2", n, err)
			}
			// kept: Bump keeps a counter for good, whatever BumpUntil says.
			g.Bump(h.ctx, kept)
			g.BumpUntil(h.ctx, kept, soon)
			g.BumpUntil(h.ctx, keptAfter, soon)
			g.Bump(h.ctx, keptAfter)
			if n, err := g.Generation(h.ctx, short); n != 1 || err != nil {
				t.Fatalf("Generation before the deadline = %d, %v; want 1", n, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				n, err := g.Generation(h.ctx, short)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Generation = %d 10 s after the deadline; want it forgotten (0)", n)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n, _ := g.Generation(h.ctx, long); n != 2 {
				t.Fatalf("Generation of a counter with a later deadline = %d after the earlier one; want 2", n)
			}
			if n, _ := g.Generation(h.ctx, kept); n != 2 {
				t.Fatalf("Generation of a bumped counter = %d after a BumpUntil deadline; want 2, kept for good", n)
			}
			if n, _ := g.Generation(h.ctx, keptAfter); n != 2 {
				t.Fatalf("Generation of a counter bumped after a BumpUntil = %d past its deadline; want 2, kept for good", n)
			}
			if n, err := g.BumpUntil(h.ctx, short, time.Now().Add(time.Hour)); n != 1 || err != nil {
				t.Fatalf("BumpUntil of a forgotten counter = %d, %v; want 1", n, err)
			}
		},
	},
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
			d := sessionkit.Delta{Set: map[string][]byte{"a": enc(2)}, IdleDeadline: time.Now().Add(time.Hour)}
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
			tok = h.commit(tok, sessionkit.Delta{Set: map[string][]byte{"big2": big}, IdleDeadline: time.Now().Add(time.Hour)})
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

func (h *harness) commit(tok sessionkit.Token, d sessionkit.Delta) sessionkit.Token {
	h.t.Helper()
	t, err := h.s.Commit(h.ctx, tok, d)
	if err != nil {
		h.t.Fatalf("Commit: %v", err)
	}
	return t
}

// checkWritesNotFound checks that every write to tok returns ErrNotFound and
// leaves no session behind.
func (h *harness) checkWritesNotFound(tok sessionkit.Token, what string) {
	h.t.Helper()
	dl := time.Now().Add(time.Hour)
	if _, err := h.s.Commit(h.ctx, tok, sessionkit.Delta{Set: map[string][]byte{"x": enc(1)}, IdleDeadline: dl}); !errors.Is(err, sessionkit.ErrNotFound) {
		h.t.Fatalf("Commit to %s: %v, want ErrNotFound", what, err)
	}
	if _, err := h.s.Touch(h.ctx, tok, dl); !errors.Is(err, sessionkit.ErrNotFound) {
		h.t.Fatalf("Touch of %s: %v, want ErrNotFound", what, err)
	}
	if _, err := h.s.Update(h.ctx, tok, "x", dl, func([]byte, bool) ([]byte, error) { return enc(1), nil }); !errors.Is(err, sessionkit.ErrNotFound) {
		h.t.Fatalf("Update of %s: %v, want ErrNotFound", what, err)
	}
	next := h.mint()
	if _, err := h.s.Renew(h.ctx, tok, next); !errors.Is(err, sessionkit.ErrNotFound) {
		h.t.Fatalf("Renew of %s: %v, want ErrNotFound", what, err)
	}
	h.mustNotFind(tok, "after writes to "+what)
	h.mustNotFind(next, "under the new token of a failed Renew")
}
