package cookiestore_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/internal/webtest"
	"github.com/sessionkit/sessionkit/memstore"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// app is a Manager over a cookie store, and the handlers the tests call.
type app struct {
	t     *testing.T
	store *cookiestore.Store
	m     *sessionkit.Manager
	h     http.Handler
}

func newApp(t *testing.T, store *cookiestore.Store, cfg sessionkit.Config) *app {
	t.Helper()
	cfg.Logger = discard
	m, err := sessionkit.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.FromContext(r.Context()).Set(r.FormValue("k"), r.FormValue("v")); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// An incompressible value of n bytes.
		var n int
		fmt.Sscan(r.FormValue("n"), &n)
		v := base64.RawURLEncoding.EncodeToString(randomBytes(n * 3 / 4))
		if err := sessionkit.FromContext(r.Context()).Set("big", v); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.FromContext(r.Context()), r.FormValue("k"))
		io.WriteString(w, v)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.FromContext(r.Context()).SetPrincipal(r.FormValue("u")); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sessionkit.FromContext(r.Context()).Principal())
	})
	mux.HandleFunc("/remember", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).RememberMe(r.FormValue("on") == "1")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Destroy()
	})
	return &app{t: t, store: store, m: m, h: m.Handler(mux)}
}

// with returns the app reporting to t, for subtests.
func (a *app) with(t *testing.T) *app {
	b := *a
	b.t = t
	return &b
}

// do sends a request with the jar's cookies (or a raw Cookie header) and
// checks it was answered without a server error.
func (a *app) do(path string, cookie string) *httptest.ResponseRecorder {
	a.t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code >= 500 {
		a.t.Fatalf("GET %s: status %d: %s", path, w.Code, w.Body)
	}
	return w
}

// session runs the requests in order from an empty jar and returns the jar.
func (a *app) session(paths ...string) webtest.Jar {
	a.t.Helper()
	j := webtest.Jar{}
	for _, p := range paths {
		j = j.Update(a.do(p, j.Header()))
	}
	return j
}

// noSession checks that the cookie header opens as no session: the value
// is not served, and a write starts a fresh session.
func (a *app) noSession(what, cookie string) {
	a.t.Helper()
	if got := a.do("/get?k=a", cookie).Body.String(); got != "" {
		a.t.Fatalf("%s: served a session (a=%q)", what, got)
	}
	if got := a.do("/whoami", cookie).Body.String(); got != "" {
		a.t.Fatalf("%s: served %q's session", what, got)
	}
	w := a.do("/set?k=fresh&v=1", cookie)
	j := webtest.Jar{}.Update(w)
	if len(j) == 0 || a.do("/get?k=a", j.Header()).Body.String() != "" {
		a.t.Fatalf("%s: no fresh session started", what)
	}
}

const name = "__Host-session"

func TestManagerRoundTrip(t *testing.T) {
	a := newApp(t, newStore(t, cookiestore.Config{}), sessionkit.Config{})
	j := a.session("/set?k=a&v=hello", "/big?n=4000")
	if len(j) != 2 || j[name+".1"] == "" {
		t.Fatalf("a 4000-byte session in %d cookies, want 2", len(j))
	}
	w := a.do("/get?k=a", j.Header())
	if w.Body.String() != "hello" {
		t.Fatalf("got %q", w.Body)
	}
	for _, c := range a.do("/set?k=a&v=again", j.Header()).Header()["Set-Cookie"] {
		if len(c) > 4096 {
			t.Fatalf("a Set-Cookie of %d bytes", len(c))
		}
	}
	if h := j.Header(); len("Cookie: "+h) > 8192 {
		t.Fatalf("a Cookie header of %d bytes", len(h))
	}
	// Dropping the big value goes back to one cookie and expires the other.
	j = j.Update(a.do("/set?k=big&v=", j.Header()))
	if len(j) != 1 || a.do("/get?k=a", j.Header()).Body.String() != "hello" {
		t.Fatalf("after shrinking: %d cookies", len(j))
	}
}

func TestBadInputOpensAsNoSession(t *testing.T) {
	store := newStore(t, cookiestore.Config{})
	a := newApp(t, store, sessionkit.Config{})
	small := a.session("/set?k=a&v=secret", "/login?u=alice")
	big1 := a.session("/set?k=a&v=secret", "/login?u=alice", "/big?n=4000")
	big2 := a.session("/set?k=a&v=other", "/login?u=mallory", "/big?n=4000")
	if a.do("/get?k=a", big1.Header()).Body.String() != "secret" || a.do("/whoami", small.Header()).Body.String() != "alice" {
		t.Fatal("the good sessions do not open")
	}
	c0, c1 := big1[name], big1[name+".1"]
	d0, d1 := big2[name], big2[name+".1"]

	t.Run("tamper every character", func(t *testing.T) {
		a := newApp(t, store, sessionkit.Config{})
		tok := small[name]
		for i := range len(tok) {
			for _, sub := range []byte{'A', '_'} {
				if tok[i] == sub {
					continue
				}
				bad := tok[:i] + string(sub) + tok[i+1:]
				if got := a.do("/get?k=a", name+"="+bad).Body.String(); got != "" {
					t.Fatalf("changing character %d opened the session", i)
				}
			}
		}
		sub := "x"
		if tok[len(tok)/2] == 'x' { // the random nonce put one there: 1 run in 64
			sub = "y"
		}
		a.noSession("tampered", name+"="+tok[:len(tok)/2]+sub+tok[len(tok)/2+1:])
	})
	t.Run("tamper each chunk", func(t *testing.T) {
		a := a.with(t)
		for i := 0; i < len(c0)+len(c1); i += 97 {
			b0, b1 := c0, c1
			if i < len(c0) {
				b0 = flip(c0, i)
			} else {
				b1 = flip(c1, i-len(c0))
			}
			if got := a.do("/get?k=a", name+"="+b0+"; "+name+".1="+b1).Body.String(); got != "" {
				t.Fatalf("changing character %d opened the session", i)
			}
		}
	})
	for what, cookie := range map[string]string{
		"swapped chunks":      name + "=" + c1 + "; " + name + ".1=" + c0,
		"first chunk only":    name + "=" + c0,
		"second chunk only":   name + ".1=" + c1,
		"spliced A0+B1":       name + "=" + c0 + "; " + name + ".1=" + d1,
		"spliced B0+A1":       name + "=" + d0 + "; " + name + ".1=" + c1,
		"truncated":           name + "=" + small[name][:len(small[name])-1],
		"extended":            name + "=" + small[name] + "A",
		"100 KB of base64":    name + "=" + strings.Repeat("AAAA", 25<<10),
		"100 KB of garbage":   name + "=" + string(randomBytes(100<<10)),
		"100 KB in 2 chunks":  name + "=" + strings.Repeat("A", 50<<10) + "; " + name + ".1=" + strings.Repeat("B", 50<<10),
		"header of a token":   name + "=" + small[name][:8],
		"other cookie's name": "__Host-other=" + small[name],
		"empty":               name + "=",
	} {
		t.Run(what, func(t *testing.T) { a.with(t).noSession(what, cookie) })
	}
	t.Run("wrong key", func(t *testing.T) {
		other := newApp(t, newStore(t, cookiestore.Config{Keys: keys(t, hexKey2)}), sessionkit.Config{})
		other.noSession("a cookie sealed with another key", small.Header())
	})
	t.Run("removed key", func(t *testing.T) {
		// The ring moved on to key 2 and dropped key 1.
		rotated := newApp(t, newStore(t, cookiestore.Config{Keys: keys(t, hexKey2+",open:"+hexKey1)}), sessionkit.Config{})
		if rotated.do("/whoami", small.Header()).Body.String() != "alice" {
			t.Fatal("an open-only key does not open")
		}
		removed := newApp(t, newStore(t, cookiestore.Config{Keys: keys(t, hexKey2)}), sessionkit.Config{})
		removed.noSession("a cookie sealed with a removed key", small.Header())
	})
	t.Run("another cookie name", func(t *testing.T) {
		// A store and a transport of the cookie __Host-cart; the value
		// sealed for __Host-session is copied into that cookie.
		other := newApp(t, newStore(t, cookiestore.Config{Name: "__Host-cart"}), sessionkit.Config{Transport: &sessionkit.CookieTransport{Name: "cart"}})
		other.noSession("a value sealed for another cookie", "__Host-cart="+small[name])
	})
	t.Run("expired", func(t *testing.T) {
		const life = 50 * time.Millisecond
		for _, cfg := range []sessionkit.Config{{IdleTimeout: life}, {Lifetime: life}} {
			a := newApp(t, store, cfg).with(t)
			before := time.Now()
			j := a.session("/set?k=a&v=secret")
			after := time.Now() // the session's deadline lies between before+life and after+life
			if a.do("/get?k=a", j.Header()).Body.String() != "secret" && time.Now().Before(before.Add(life)) {
				t.Fatal("the session does not open before its deadline")
			}
			time.Sleep(time.Until(after.Add(life + 10*time.Millisecond))) // the condition is the clock itself
			a.noSession(fmt.Sprintf("a cookie past its deadline (%+v)", cfg), j.Header())
		}
	})
	// Nothing above harmed the good sessions.
	if a.do("/get?k=a", big1.Header()).Body.String() != "secret" || a.do("/whoami", big2.Header()).Body.String() != "mallory" {
		t.Fatal("a good session was harmed")
	}
}

func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestTooLargeKeepsPreviousCookie(t *testing.T) {
	a := newApp(t, newStore(t, cookiestore.Config{}), sessionkit.Config{})
	j := a.session("/set?k=a&v=kept")
	r := httptest.NewRequest("GET", "/big?n=9000", nil)
	r.Header.Set("Cookie", j.Header())
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != 500 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("an oversized session: status %d, %d cookies; want 500 and none", w.Code, len(w.Result().Cookies()))
	}
	if a.do("/get?k=a", j.Header()).Body.String() != "kept" {
		t.Fatal("the previous cookie no longer opens")
	}
}

// TestKeyRotation walks a rolling two-step rotation from key 1 to key 2:
// no node ever meets a cookie it cannot open, and a read-only request
// reseals an old cookie with the new key.
func TestKeyRotation(t *testing.T) {
	node := func(ring string) *app {
		return newApp(t, newStore(t, cookiestore.Config{Keys: keys(t, ring)}), sessionkit.Config{})
	}
	old := node(hexKey1)
	step1 := node(hexKey1 + ",open:" + hexKey2)
	step2 := node(hexKey2 + ",open:" + hexKey1)
	done := node(hexKey2)

	j := old.session("/set?k=a&v=b")
	for _, n := range []*app{old, step1, step2} {
		if n.do("/get?k=a", j.Header()).Body.String() != "b" {
			t.Fatal("a node of the rotation cannot open a cookie sealed with key 1")
		}
	}
	// A cookie step 2 sealed opens on a node still at step 1.
	j2 := step2.session("/set?k=a&v=c")
	if step1.do("/get?k=a", j2.Header()).Body.String() != "c" {
		t.Fatal("a step-1 node cannot open a cookie sealed with the new key")
	}
	// A read-only request on a step-2 node reseals the old cookie.
	w := step2.do("/get?k=a", j.Header())
	resealed := j.Update(w)
	if w.Body.String() != "b" || resealed[name] == j[name] {
		t.Fatal("a read-only request did not reseal a cookie sealed with an open-only key")
	}
	if done.do("/get?k=a", resealed.Header()).Body.String() != "b" {
		t.Fatal("the resealed cookie does not open with key 2 alone")
	}
	// A cookie sealed with the sealing key is not resealed by a read.
	if len(step2.do("/get?k=a", resealed.Header()).Result().Cookies()) != 0 {
		t.Fatal("a current cookie was resealed by a read-only request")
	}
	done.noSession("a cookie never resealed, after key 1 was removed", j.Header())
}

func TestRevokeAll(t *testing.T) {
	gens := newGenerations(t)
	a := newApp(t, newStore(t, cookiestore.Config{Generations: gens}), sessionkit.Config{})
	laptop := a.session("/login?u=alice", "/set?k=a&v=1")
	phone := a.session("/login?u=alice")
	bob := a.session("/login?u=bob")
	if a.do("/whoami", laptop.Header()).Body.String() != "alice" {
		t.Fatal("login did not stick")
	}
	if _, err := a.m.Sessions(context.Background(), "alice"); err == nil {
		t.Fatal("Sessions listed client-side sessions")
	}
	n, err := a.m.RevokeAll(context.Background(), "alice")
	if n != -1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v; want -1, nil", n, err)
	}
	a.noSession("alice's laptop after RevokeAll", laptop.Header())
	a.noSession("alice's phone after RevokeAll", phone.Header())
	if a.do("/whoami", bob.Header()).Body.String() != "bob" {
		t.Fatal("bob was revoked too")
	}
	// Alice logs in again and is not caught by the old revocation.
	again := a.session("/login?u=alice")
	if a.do("/whoami", again.Header()).Body.String() != "alice" {
		t.Fatal("a new login after RevokeAll does not stick")
	}
	// Without Generations, RevokeAll is not supported.
	plain := newApp(t, newStore(t, cookiestore.Config{}), sessionkit.Config{})
	if _, err := plain.m.RevokeAll(context.Background(), "alice"); err == nil {
		t.Fatal("RevokeAll without Generations did not fail")
	}
}

func TestLogoutRevokesStolenCopy(t *testing.T) {
	// memstore reads both counters of a request at once; behind oneByOne
	// the cookie store reads them one by one.
	for _, gens := range []sessionkit.Generations{newGenerations(t), oneByOne{newGenerations(t)}} {
		for _, revoke := range []bool{false, true} {
			t.Run(fmt.Sprintf("%T/RevokeSessions=%v", gens, revoke), func(t *testing.T) {
				logoutRevokesStolenCopy(t, gens, revoke)
			})
		}
	}
}

// oneByOne is a Generations store that reads one counter at a time: it
// hides memstore's Generations method.
type oneByOne struct{ sessionkit.ExpiringGenerations }

// countedGenerations counts the reads of a memstore's counters.
type countedGenerations struct {
	*memstore.Store
	one, many atomic.Int64
}

func (c *countedGenerations) Generation(ctx context.Context, name string) (uint64, error) {
	c.one.Add(1)
	return c.Store.Generation(ctx, name)
}

func (c *countedGenerations) Generations(ctx context.Context, names ...string) ([]uint64, error) {
	c.many.Add(1)
	return c.Store.Generations(ctx, names...)
}

// TestOneCounterReadPerRequest: a logged-in request with RevokeSessions
// checks two counters, the principal's and the session's; with a
// MultiGenerations store that is one read, not two.
func TestOneCounterReadPerRequest(t *testing.T) {
	gens := &countedGenerations{Store: newGenerations(t)}
	a := newApp(t, newStore(t, cookiestore.Config{Generations: gens, RevokeSessions: true}), sessionkit.Config{})
	user := a.session("/login?u=carol")
	gens.one.Store(0)
	gens.many.Store(0)
	if got := a.do("/whoami", user.Header()).Body.String(); got != "carol" {
		t.Fatalf("whoami = %q", got)
	}
	if one, many := gens.one.Load(), gens.many.Load(); one != 0 || many != 1 {
		t.Fatalf("a request read the counters with %d Generation and %d Generations calls, want 0 and 1", one, many)
	}
}

// shortGenerations answers one counter whatever it is asked.
type shortGenerations struct{ *memstore.Store }

func (shortGenerations) Generations(ctx context.Context, names ...string) ([]uint64, error) {
	return []uint64{0}, nil
}

// TestShortCounterAnswerFailsClosed: a MultiGenerations store that answers
// fewer counters than asked fails the request with 503; it neither panics
// nor opens the session.
func TestShortCounterAnswerFailsClosed(t *testing.T) {
	gens := shortGenerations{newGenerations(t)}
	a := newApp(t, newStore(t, cookiestore.Config{Generations: gens, RevokeSessions: true}), sessionkit.Config{})
	user := a.session("/login?u=carol")
	r := httptest.NewRequest("GET", "/whoami", nil)
	r.Header.Set("Cookie", user.Header())
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("whoami with a short counter answer: %d %q, want 503", w.Code, w.Body)
	}
}

func logoutRevokesStolenCopy(t *testing.T, gens sessionkit.Generations, revoke bool) {
	a := newApp(t, newStore(t, cookiestore.Config{Generations: gens, RevokeSessions: revoke}), sessionkit.Config{})
	anon := a.session("/set?k=a&v=1")
	user := anon.Update(a.do("/login?u=carol", anon.Header()))
	stolen := maps.Clone(user)
	a.do("/logout", user.Header())
	opens := a.do("/whoami", stolen.Header()).Body.String() == "carol"
	preLogin := a.do("/get?k=a", anon.Header()).Body.String() == "1"
	if revoke && (opens || preLogin) {
		t.Fatalf("with RevokeSessions: the logged-out copy opens %v, the pre-login cookie opens %v", opens, preLogin)
	}
	if !revoke && (!opens || !preLogin) {
		t.Fatal("without RevokeSessions a copy of a deleted or renewed cookie was expected to open (documented)")
	}
}

// TestTransportShrinkRace: two concurrent requests of one client; A grows
// the session to two cookies, B (sent before A's answer arrived) writes one
// cookie, and B's answer arrives last. The transport expires every unused
// chunk of a sealed token, so the browser is left with B's session whole,
// never B's first chunk joined to A's stale second one.
func TestTransportShrinkRace(t *testing.T) {
	a := newApp(t, newStore(t, cookiestore.Config{}), sessionkit.Config{})
	j := a.session("/set?k=a&v=1")
	before := j.Header()
	wA := a.do("/big?n=4000", before)  // request A: two chunks
	wB := a.do("/set?k=a&v=2", before) // request B: one chunk, sent with the same cookies
	final := j.Update(wA).Update(wB)   // B's answer arrives last
	if _, ok := final[name+".1"]; ok {
		t.Fatal("A's second chunk outlived B's answer")
	}
	if got := a.do("/get?k=a", final.Header()).Body.String(); got != "2" {
		t.Fatalf("after B's answer the session reads %q, want B's value 2", got)
	}
}

// deadlines records the deadlines a store's revocations asked for, and
// passes each call on to a real memstore.
type deadlines struct {
	*memstore.Store
	mu    sync.Mutex
	until []time.Time
}

func (d *deadlines) BumpUntil(ctx context.Context, name string, deadline time.Time) (uint64, error) {
	d.mu.Lock()
	d.until = append(d.until, deadline)
	d.mu.Unlock()
	return d.Store.BumpUntil(ctx, name, deadline)
}

// TestRevocationExpires: the counter that revokes a logged-out cookie is
// kept until the session's deadline (and a minute of margin), not for
// good, when the Generations store can forget it.
func TestRevocationExpires(t *testing.T) {
	gens := &deadlines{Store: newGenerations(t)}
	a := newApp(t, newStore(t, cookiestore.Config{Generations: gens, RevokeSessions: true}), sessionkit.Config{Lifetime: time.Hour})
	start := time.Now()
	user := a.session("/login?u=carol")
	stolen := maps.Clone(user)
	a.do("/logout", user.Header())
	if a.do("/whoami", stolen.Header()).Body.String() == "carol" {
		t.Fatal("the logged-out copy opens")
	}
	gens.mu.Lock()
	defer gens.mu.Unlock()
	if len(gens.until) == 0 {
		t.Fatal("logout bumped no expiring counter")
	}
	for _, d := range gens.until {
		if d.Before(start.Add(time.Hour)) || d.After(time.Now().Add(time.Hour+2*time.Minute)) {
			t.Errorf("a revocation is kept until %v, want the session's deadline, about %v", d, start.Add(time.Hour))
		}
	}
}

// TestRevocationOutlivesEveryCopy: a cookie copied while the session had
// a long deadline (remember me) stays revoked until that deadline, even
// when the session's deadline shrank before the logout: a shrinking
// deadline retires the session's id until the longer one.
func TestRevocationOutlivesEveryCopy(t *testing.T) {
	gens := &deadlines{Store: newGenerations(t)}
	a := newApp(t, newStore(t, cookiestore.Config{Generations: gens, RevokeSessions: true}),
		sessionkit.Config{Lifetime: time.Hour, RememberMeLifetime: 30 * 24 * time.Hour})
	start := time.Now()
	user := a.session("/login?u=dave")
	user = user.Update(a.do("/remember?on=1", user.Header()))
	stolen := maps.Clone(user) // lives 30 days
	user = user.Update(a.do("/remember?on=0", user.Header()))
	a.do("/logout", user.Header())
	if a.do("/whoami", stolen.Header()).Body.String() == "dave" {
		t.Fatal("the long-lived copy opens after the logout")
	}
	gens.mu.Lock()
	defer gens.mu.Unlock()
	latest := slices.MaxFunc(gens.until, time.Time.Compare)
	if want := start.Add(30 * 24 * time.Hour); latest.Before(want) {
		t.Fatalf("the latest revocation is kept until %v; the copy opens until %v", latest, want)
	}
}

// TestManagerRefusesAnotherCookie: a Manager whose cookie is not the one
// the store seals for, or carries less than the store writes, is refused
// when it is made, not at its first request.
func TestManagerRefusesAnotherCookie(t *testing.T) {
	for _, c := range []struct {
		what  string
		store cookiestore.Config
		tr    *sessionkit.CookieTransport
		ok    bool
	}{
		{"defaults", cookiestore.Config{}, &sessionkit.CookieTransport{}, true},
		{"the transport's name", cookiestore.Config{Name: "__Host-cart"}, &sessionkit.CookieTransport{Name: "cart"}, true},
		{"another name", cookiestore.Config{Name: "__Host-cart"}, &sessionkit.CookieTransport{}, false},
		{"a domain's prefix", cookiestore.Config{}, &sessionkit.CookieTransport{Domain: "mall.test"}, false},
		{"longer tokens than the cookies carry", cookiestore.Config{}, &sessionkit.CookieTransport{MaxChunks: 1}, false},
		{"shorter tokens", cookiestore.Config{MaxTokenLen: 3000}, &sessionkit.CookieTransport{MaxChunks: 1}, true},
	} {
		cfg := c.store
		cfg.Keys = keys(t, hexKey1)
		s, err := cookiestore.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sessionkit.New(s, sessionkit.Config{Transport: c.tr})
		if (err == nil) != c.ok {
			t.Errorf("%s: New = %v, want ok %v", c.what, err, c.ok)
		}
	}
}
