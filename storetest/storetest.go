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
//
// For a store the Manager loads through sessionkit.LazyLoader (see
// sessionkit.Lazy), every load a case makes also calls LoadLazy and checks
// that it returns the same session.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Option adjusts a Run.
type Option func(*config)

type config struct {
	instead   map[string]instead
	atRest    func() ([]byte, error)
	anonymous string // why expiry events carry no principal, "" when they do
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

// ExpiryWithoutPrincipal says that the store's expiry events carry no
// principal, and why (a Redis keyspace notification names only the key):
// the expiry case then accepts an empty one.
func ExpiryWithoutPrincipal(reason string) Option {
	return func(c *config) { c.anonymous = reason }
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
	if l, ok := sessionkit.Lazy(h.s); ok {
		h.checkLazy(l, t, rec, found)
	}
	return rec, found
}

func sizeOf(values map[string][]byte) int {
	n := 0
	for k, v := range values {
		n += len(k) + len(v)
	}
	return n
}

// expiryMargin is how close to its expiry a session may be for Load and
// LoadLazy to disagree on whether it is found.
const expiryMargin = 50 * time.Millisecond

// checkLazy checks that LoadLazy agrees with a Load that returned rec and
// found, but for a session that expired between the two, and compares
// the sessions only when both found it.
func (h *harness) checkLazy(l sessionkit.LazyLoader, t sessionkit.Token, rec sessionkit.Record, found bool) {
	h.t.Helper()
	meta, values, lfound, err := l.LoadLazy(h.ctx, t)
	if err != nil {
		h.t.Fatalf("LoadLazy: %v", err)
	}
	if lfound != found {
		// A session at its expiry may be live for one call and gone for
		// the next.
		m := rec.Meta
		if lfound {
			m = meta
		}
		if !m.Expired(time.Now().Add(expiryMargin)) {
			h.t.Fatalf("LoadLazy found=%v, Load found=%v", lfound, found)
		}
		return
	}
	if !found {
		return
	}
	if meta.Principal != rec.Principal || meta.Persistent != rec.Persistent || meta.Generation != rec.Generation ||
		meta.IdleTimeout != rec.IdleTimeout || !meta.Created.Equal(rec.Created) ||
		!meta.IdleDeadline.Equal(rec.IdleDeadline) || !meta.Deadline.Equal(rec.Deadline) {
		h.t.Fatalf("LoadLazy meta = %+v, Load's %+v", meta, rec.Meta)
	}
	got := map[string][]byte{}
	if values != nil {
		for k, v := range values.All {
			if _, dup := got[k]; dup {
				h.t.Fatalf("LoadLazy: All yields %q twice", k)
			}
			got[k] = v
			if b, ok := values.Value(k); !ok || !bytes.Equal(b, v) {
				h.t.Fatalf("LoadLazy: Value(%q) = %q, %v; All yields %q", k, b, ok, v)
			}
		}
		if _, ok := values.Value("storetest: no such key"); ok {
			h.t.Fatal("LoadLazy: Value finds a key the session does not hold")
		}
		if n := sizeOf(got); values.Size() != n {
			h.t.Fatalf("LoadLazy: Size = %d, want %d", values.Size(), n)
		}
	}
	if !maps.EqualFunc(got, rec.Values, bytes.Equal) && (len(got) > 0 || len(rec.Values) > 0) {
		h.t.Fatalf("LoadLazy values = %q, Load's %q", got, rec.Values)
	}
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

// cases are every case, in the order Run runs them.
var cases = slices.Concat(recordCases, lifecycleCases, principalCases, robustnessCases)

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
	if _, err := h.s.Commit(h.ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "x", Value: enc(1)}}, IdleDeadline: dl}); !errors.Is(err, sessionkit.ErrNotFound) {
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
