package peers_test

// The cases below are ported from the test suites of scs and Spring
// Session; each test is named after its peer case and runs on every store
// where it applies, the real servers included.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/clusterstore"
	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/internal/webtest"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

var discard = slog.New(slog.DiscardHandler)

// peerStore is a store the peer cases run on.
type peerStore struct {
	name string
	// shared: the store keeps one record that concurrent requests share
	// (a server-side store, or a cookie store that revokes), so that a
	// renew or a delete by one request is seen by the others.
	shared bool
	open   func(t *testing.T) sessionkit.Store
}

var peerStores = []peerStore{
	{"memstore", true, func(t *testing.T) sessionkit.Store {
		s := memstore.New(memstore.Config{})
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"cookiestore", false, func(t *testing.T) sessionkit.Store { return openCookieStore(t, cookiestore.Config{}) }},
	{"cookiestore-revocable", true, func(t *testing.T) sessionkit.Store {
		gens := memstore.New(memstore.Config{})
		t.Cleanup(func() { gens.Close() })
		return openCookieStore(t, cookiestore.Config{Generations: gens, RevokeSessions: true})
	}},
	{"sqlite", true, func(t *testing.T) sessionkit.Store {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatalf("sqlitestore.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", true, func(t *testing.T) sessionkit.Store {
		srv := pgtest.Start(t, pgtest.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := pgstore.Open(ctx, srv.CreateDB(t, "sessions"))
		if err != nil {
			t.Fatalf("pgstore.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"redis", true, func(t *testing.T) sessionkit.Store {
		srv := redistest.Start(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := redisstore.New(ctx, redisstore.Config{URL: srv.URL()})
		if err != nil {
			t.Fatalf("redisstore.New: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"clusterstore", true, openClusterNode},
}

func openCookieStore(t *testing.T, cfg cookiestore.Config) sessionkit.Store {
	ct := &sessionkit.CookieTransport{}
	cfg.Keys = []cookiestore.Key{{Secret: []byte(strings.Repeat("k", 32))}}
	cfg.Name, cfg.MaxTokenLen = ct.CookieName(), ct.MaxTokenLen()
	s, err := cookiestore.New(cfg)
	if err != nil {
		t.Fatalf("cookiestore.New: %v", err)
	}
	return s
}

// openClusterNode starts a one-node cluster and waits until it serves.
func openClusterNode(t *testing.T) sessionkit.Store {
	var s *clusterstore.Store
	var err error
	for range 5 { // a port free a moment ago may be taken meanwhile
		var port int
		if port, err = proc.FreePort(); err != nil {
			break
		}
		s, err = clusterstore.New(context.Background(), clusterstore.Config{
			Name: "n1", Gossip: fmt.Sprintf("127.0.0.1:%d", port), Data: "127.0.0.1:0",
			Key: []byte(strings.Repeat("c", 32)), Logger: discard,
		})
		if !proc.AddrInUse(err) {
			break
		}
	}
	if err != nil {
		t.Fatalf("clusterstore.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	err = proc.WaitFor(10*time.Second, func() error {
		tok, err := s.Mint(context.Background())
		if err != nil {
			return err
		}
		now := time.Now()
		_, err = s.Create(context.Background(), tok, sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Minute), Deadline: now.Add(time.Minute)}})
		return err
	})
	if err != nil {
		t.Fatalf("the cluster node does not serve: %v", err)
	}
	return s
}

// eachStore runs f on every peer store; sharedOnly keeps the stores whose
// record concurrent requests share.
func eachStore(t *testing.T, sharedOnly bool, f func(t *testing.T, a *peerApp)) {
	for _, ps := range peerStores {
		if sharedOnly && !ps.shared {
			continue
		}
		t.Run(ps.name, func(t *testing.T) { f(t, newPeerApp(t, ps.open(t), sessionkit.Config{})) })
	}
}

// peerApp is a Manager over a store, with the handlers the cases call
// and a hook a case sets to take over a path.
type peerApp struct {
	t     *testing.T
	store sessionkit.Store
	m     *sessionkit.Manager
	h     http.Handler
	hook  func(w http.ResponseWriter, r *http.Request) bool // true: handled
}

func newPeerApp(t *testing.T, store sessionkit.Store, cfg sessionkit.Config) *peerApp {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	m, err := sessionkit.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := &peerApp{t: t, store: store, m: m}
	a.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.hook != nil && a.hook(w, r) {
			return
		}
		webtest.Handlers[r.URL.Path](w, r)
	}))
	return a
}

// do sends a request with the jar's cookies.
func (a *peerApp) do(path string, j webtest.Jar) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if h := j.Header(); h != "" {
		r.Header.Set("Cookie", h)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// visit sends a request and returns the jar as the response leaves it.
func (a *peerApp) visit(path string, j webtest.Jar) webtest.Jar {
	a.t.Helper()
	w := a.do(path, j)
	if w.Code != http.StatusOK {
		a.t.Fatalf("GET %s: status %d: %s", path, w.Code, w.Body)
	}
	return j.Update(w)
}

// sessionsOf counts the principal's live sessions, or returns -1 when the
// store cannot list them.
func (a *peerApp) sessionsOf(p string) int {
	a.t.Helper()
	infos, err := a.m.Sessions(context.Background(), p)
	if errors.Is(err, sessionkit.ErrNotSupported) {
		return -1
	}
	if err != nil {
		a.t.Fatalf("Sessions(%s): %v", p, err)
	}
	return len(infos)
}

// TestWriteAfterCommit ports scs's sessionResponseWriter case and Spring
// Session's doFilterGetSessionNewWhenResponseCommittedThenException: a
// handler that writes its response before its first session call cannot
// change the session any more; its writes return ErrCommitted instead of
// nil and being lost.
func TestWriteAfterCommit(t *testing.T) {
	eachStore(t, false, func(t *testing.T, a *peerApp) {
		errs := make(chan error, 4)
		a.hook = func(w http.ResponseWriter, r *http.Request) bool {
			switch r.URL.Path {
			case "/redirect-login":
				http.Redirect(w, r, "/", http.StatusSeeOther)
				errs <- sessionkit.FromContext(r.Context()).SetPrincipal("alice")
			case "/write-set":
				io.WriteString(w, "written")
				s := sessionkit.FromContext(r.Context())
				errs <- s.Set("a", "late")
				errs <- s.Destroy()
			case "/flush-set":
				http.NewResponseController(w).Flush()
				errs <- sessionkit.FromContext(r.Context()).Set("a", "late")
			default:
				return false
			}
			return true
		}
		check := func(what string, w *httptest.ResponseRecorder, n int) {
			t.Helper()
			for range n {
				if err := <-errs; !errors.Is(err, sessionkit.ErrCommitted) {
					t.Fatalf("%s: a session write after the response was written returned %v, want ErrCommitted", what, err)
				}
			}
			if c := w.Header().Values("Set-Cookie"); len(c) != 0 {
				t.Fatalf("%s: Set-Cookie %q after the header was written", what, c)
			}
		}
		// A new visitor: nothing is stored, no cookie is sent.
		w := a.do("/redirect-login", nil)
		check("redirect then SetPrincipal", w, 1)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("redirect: status %d", w.Code)
		}
		if n := a.sessionsOf("alice"); n > 0 {
			t.Fatalf("alice has %d sessions after a login refused", n)
		}
		// An existing session keeps its value.
		j := a.visit("/set?k=a&v=kept", nil)
		check("write then Set and Destroy", a.do("/write-set", j), 2)
		check("flush then Set", a.do("/flush-set", j), 1)
		if got := a.do("/get?k=a", j).Body.String(); got != "kept" {
			t.Fatalf("after writes refused, a = %q, want kept", got)
		}
	})
}

// gate holds a handler between its session load and its next session
// call, so that a test orders concurrent requests.
type gate struct {
	loaded chan struct{}
	go_    chan struct{}
}

func newGate() gate { return gate{make(chan struct{}), make(chan struct{})} }

// race runs two requests with the same cookies that both load the session
// before either goes on; first then goes on and completes, and only then
// second. It returns the two responses.
func race(a *peerApp, j webtest.Jar, first, second string, gates map[string]gate) (*httptest.ResponseRecorder, *httptest.ResponseRecorder) {
	a.t.Helper()
	var w1, w2 *httptest.ResponseRecorder
	var wg sync.WaitGroup
	done1 := make(chan struct{})
	wg.Go(func() { w1 = a.do(first, j); close(done1) })
	wg.Go(func() { w2 = a.do(second, j) })
	g1, g2 := gates[pathOf(first)], gates[pathOf(second)]
	timeout := time.After(20 * time.Second)
	for _, ch := range []chan struct{}{g1.loaded, g2.loaded} {
		select {
		case <-ch:
		case <-timeout:
			a.t.Fatal("a request did not load its session")
		}
	}
	close(g1.go_)
	select {
	case <-done1:
	case <-timeout:
		a.t.Fatal("the first request did not complete")
	}
	close(g2.go_)
	wg.Wait()
	return w1, w2
}

func pathOf(u string) string { p, _, _ := strings.Cut(u, "?"); return p }

// TestConcurrentRenew ports Spring Session's
// save_ChangeSessionIdConcurrent: two requests load one session and both
// renew it. The first renew wins; the second finds the session gone and
// returns ErrConflict, every later write of its request returns it too, and
// its response is a 409 that sets no cookie, so the browser keeps the
// winner's token and its session.
func TestConcurrentRenew(t *testing.T) {
	eachStore(t, true, func(t *testing.T, a *peerApp) {
		gates := map[string]gate{"/renew-a": newGate(), "/renew-b": newGate()}
		var renewErr, setErr error
		a.hook = func(w http.ResponseWriter, r *http.Request) bool {
			g, ok := gates[r.URL.Path]
			if !ok {
				return false
			}
			s := sessionkit.FromContext(r.Context())
			s.Get("a")
			close(g.loaded)
			<-g.go_
			err := s.Renew()
			if r.URL.Path == "/renew-b" {
				renewErr, setErr = err, s.Set("b", "loser")
			} else if err != nil {
				t.Errorf("the first renew: %v", err)
			}
			io.WriteString(w, "renewed")
			return true
		}
		j := a.visit("/set?k=a&v=1", nil)
		w1, w2 := race(a, j, "/renew-a", "/renew-b", gates)
		if !errors.Is(renewErr, sessionkit.ErrConflict) || !errors.Is(setErr, sessionkit.ErrConflict) {
			t.Fatalf("the losing request: Renew %v, then Set %v; want ErrConflict for both", renewErr, setErr)
		}
		if w1.Code != http.StatusOK || len(w1.Result().Cookies()) == 0 {
			t.Fatalf("the winner: status %d, cookies %v", w1.Code, w1.Result().Cookies())
		}
		if w2.Code != http.StatusConflict || w2.Header().Values("Set-Cookie") != nil || strings.Contains(w2.Body.String(), "renewed") {
			t.Fatalf("the loser: status %d, Set-Cookie %q, body %q; want 409 without a cookie", w2.Code, w2.Header().Values("Set-Cookie"), w2.Body)
		}
		browser := j.Update(w1).Update(w2) // the loser's answer arrives last
		if got := a.do("/get?k=a", browser).Body.String(); got != "1" {
			t.Fatalf("the browser's session after both answers: a = %q, want 1", got)
		}
		if got := a.do("/get?k=b", browser).Body.String(); got != "" {
			t.Fatalf("the loser's write reached the session: b = %q", got)
		}
		if got := a.do("/get?k=a", j).Body.String(); got != "" {
			t.Fatalf("the old token still opens the session: a = %q", got)
		}
	})
}

// TestDoubleLogin ports the same Spring case as a user sees it: a login
// form submitted twice, both submissions carrying the anonymous session
// and its cart. One login wins; the other answers 409 without a cookie.
// The user ends with one live session, logged in, that keeps the cart.
func TestDoubleLogin(t *testing.T) {
	eachStore(t, true, func(t *testing.T, a *peerApp) {
		gates := map[string]gate{"/login-1": newGate(), "/login-2": newGate()}
		a.hook = func(w http.ResponseWriter, r *http.Request) bool {
			g, ok := gates[r.URL.Path]
			if !ok {
				return false
			}
			s := sessionkit.FromContext(r.Context())
			s.Principal()
			close(g.loaded)
			<-g.go_
			if err := s.SetPrincipal("alice"); err != nil {
				http.Error(w, err.Error(), sessionkit.ErrorStatus(err))
				return true
			}
			io.WriteString(w, "welcome")
			return true
		}
		j := a.visit("/append?v=book", nil)
		j = a.visit("/append?v=pen", j)
		w1, w2 := race(a, j, "/login-1", "/login-2", gates)
		if w1.Code != http.StatusOK || w2.Code != http.StatusConflict || w2.Header().Values("Set-Cookie") != nil {
			t.Fatalf("double login: %d then %d with Set-Cookie %q; want 200, then 409 without a cookie", w1.Code, w2.Code, w2.Header().Values("Set-Cookie"))
		}
		browser := j.Update(w1).Update(w2)
		if got := a.do("/cart", browser).Body.String(); got != "2" {
			t.Fatalf("the logged-in session's cart has %s items, want 2", got)
		}
		if n := a.sessionsOf("alice"); n != 1 && n != -1 {
			t.Fatalf("alice has %d live sessions, want 1", n)
		}
		rec, found, err := a.store.Load(context.Background(), sessionkit.Token(browser[cookieName]))
		if err != nil || !found || rec.Principal != "alice" {
			t.Fatalf("the browser's session: found %v, principal %q, %v; want alice's", found, rec.Principal, err)
		}
	})
}

const cookieName = "__Host-session"

// TestRenewDeletedSession ports Spring Session's
// changeSessionIdWhenSessionIsDeleted: a request sets a value and renews
// its session after another request deleted it. The renew returns the
// error a commit would (ErrConflict), and nothing is stored, under the old
// token or a new one.
func TestRenewDeletedSession(t *testing.T) {
	for _, ps := range peerStores {
		if !ps.shared {
			continue
		}
		t.Run(ps.name, func(t *testing.T) {
			a := newPeerApp(t, ps.open(t), sessionkit.Config{})
			g := newGate()
			var setErr, renewErr, afterErr error
			a.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/set-renew" {
					return false
				}
				s := sessionkit.FromContext(r.Context())
				s.Get("a")
				close(g.loaded)
				<-g.go_
				setErr = s.Set("b", "2")
				renewErr = s.Renew()
				afterErr = s.Set("c", "3")
				io.WriteString(w, "renewed")
				return true
			}
			j := a.visit("/login?u=bob", nil)
			j = a.visit("/set?k=a&v=1", j)
			done := make(chan *httptest.ResponseRecorder)
			go func() { done <- a.do("/set-renew", j) }()
			select {
			case <-g.loaded:
			case <-time.After(20 * time.Second):
				t.Fatal("the request did not load its session")
			}
			a.visit("/destroy", j)
			close(g.go_)
			w := <-done
			if setErr != nil {
				t.Fatalf("Set before the renew: %v (it is kept in the request until the commit)", setErr)
			}
			if !errors.Is(renewErr, sessionkit.ErrConflict) || !errors.Is(afterErr, sessionkit.ErrConflict) {
				t.Fatalf("Renew of a deleted session: %v, then Set: %v; want ErrConflict for both", renewErr, afterErr)
			}
			if w.Code != http.StatusConflict || w.Header().Values("Set-Cookie") != nil {
				t.Fatalf("response: status %d, Set-Cookie %q; want 409 and no cookie", w.Code, w.Header().Values("Set-Cookie"))
			}
			if n := a.sessionsOf("bob"); n > 0 {
				t.Fatalf("bob has %d sessions after his session was deleted", n)
			}
			if got := a.do("/get?k=a", j).Body.String(); got != "" {
				t.Fatalf("the deleted session opens: a = %q", got)
			}
		})
	}
}

// TestTimeoutOverrideDeadline ports Spring Session's
// doFilterMaxInactiveIntervalOverride: a handler that overrides the idle
// timeout sees the new idle deadline in the same request, and the next
// request finds the override stored.
func TestTimeoutOverrideDeadline(t *testing.T) {
	eachStore(t, false, func(t *testing.T, a *peerApp) {
		const idle = 5 * time.Minute // the Manager's default is 30
		var before, after, got time.Time
		a.hook = func(w http.ResponseWriter, r *http.Request) bool {
			s := sessionkit.FromContext(r.Context())
			switch r.URL.Path {
			case "/override":
				before = time.Now()
				if err := s.SetTimeouts(idle, 0); err != nil {
					t.Errorf("SetTimeouts: %v", err)
				}
				s.Set("o", "1") // an empty new session is not stored
				got = s.Deadline()
				after = time.Now()
			case "/deadline":
				got = s.Deadline()
			default:
				return false
			}
			return true
		}
		for _, what := range []string{"a new session", "a stored session"} {
			var j webtest.Jar
			if what == "a stored session" {
				j = a.visit("/set?k=a&v=1", nil)
			}
			j = a.visit("/override", j)
			if got.Before(before.Add(idle)) || got.After(after.Add(idle)) {
				t.Fatalf("%s: Deadline() after SetTimeouts(%v) = %v from now, want %v", what, idle, got.Sub(after), idle)
			}
			set := got
			a.visit("/deadline", j)
			if got.Sub(set) > time.Second || set.Sub(got) > time.Second {
				t.Fatalf("%s: the next request's Deadline() = %v, want the overridden %v", what, got, set)
			}
		}
	})
}

// TestCacheHeaders ports scs's WriteSessionCookie case, held to OWASP's
// session cheat sheet: a response whose content came from a session varies
// on what carries the token, and a response that sets, renews or clears a
// token is never stored by a cache; the handler's own stricter headers
// survive, and Config.DisableCacheHeaders turns it all off.
func TestCacheHeaders(t *testing.T) {
	type want struct{ vary, cacheControl []string }
	check := func(t *testing.T, what string, w *httptest.ResponseRecorder, x want) {
		t.Helper()
		if got := w.Header().Values("Vary"); !slices.Equal(got, x.vary) {
			t.Errorf("%s: Vary %q, want %q", what, got, x.vary)
		}
		if got := w.Header().Values("Cache-Control"); !slices.Equal(got, x.cacheControl) {
			t.Errorf("%s: Cache-Control %q, want %q", what, got, x.cacheControl)
		}
	}
	for _, ps := range peerStores[:2] { // the headers depend on the Manager, not on the store
		t.Run(ps.name, func(t *testing.T) {
			a := newPeerApp(t, ps.open(t), sessionkit.Config{})
			a.hook = func(w http.ResponseWriter, r *http.Request) bool {
				s := sessionkit.FromContext(r.Context())
				switch r.URL.Path {
				case "/strict":
					w.Header().Set("Cache-Control", "private, no-store")
					w.Header().Set("Vary", "Accept-Encoding, cookie")
					s.Set("a", "strict")
				case "/public":
					w.Header().Set("Cache-Control", "public, max-age=3600")
					w.Header().Add("Vary", "Accept-Language")
					s.Set("a", "public")
				default:
					return false
				}
				return true
			}
			check(t, "untouched", a.do("/none", nil), want{})
			check(t, "a new visitor who only reads", a.do("/get?k=a", nil), want{vary: []string{"Cookie"}})
			w := a.do("/set?k=a&v=1", nil)
			check(t, "a new session", w, want{vary: []string{"Cookie"}, cacheControl: []string{"no-store"}})
			j := webtest.Jar{}.Update(w)
			if ps.name == "memstore" {
				check(t, "a read of a session", a.do("/get?k=a", j), want{vary: []string{"Cookie"}})
			}
			check(t, "a login", a.do("/login?u=alice", j), want{vary: []string{"Cookie"}, cacheControl: []string{"no-store"}})
			check(t, "a logout", a.do("/destroy", j), want{vary: []string{"Cookie"}, cacheControl: []string{"no-store"}})
			check(t, "a handler's stricter headers", a.do("/strict", j), want{vary: []string{"Accept-Encoding, cookie"}, cacheControl: []string{"private, no-store"}})
			check(t, "a handler's public page that sets a cookie", a.do("/public", j), want{vary: []string{"Accept-Language", "Cookie"}, cacheControl: []string{"public, max-age=3600", "no-store"}})
		})
	}
	t.Run("header transport", func(t *testing.T) {
		a := newPeerApp(t, peerStores[0].open(t), sessionkit.Config{Transport: &sessionkit.HeaderTransport{Name: "X-Token"}})
		w := a.do("/set?k=a&v=1", nil)
		check(t, "a token issued", w, want{vary: []string{"X-Token"}, cacheControl: []string{"no-store"}})
		r := httptest.NewRequest("GET", "/get?k=a", nil)
		r.Header.Set("X-Token", w.Header().Get("X-Token"))
		w = httptest.NewRecorder()
		a.h.ServeHTTP(w, r)
		check(t, "a read with the token", w, want{vary: []string{"X-Token"}})
	})
	t.Run("DisableCacheHeaders", func(t *testing.T) {
		a := newPeerApp(t, peerStores[0].open(t), sessionkit.Config{DisableCacheHeaders: true})
		w := a.do("/set?k=a&v=1", nil)
		check(t, "a new session", w, want{})
		check(t, "a read", a.do("/get?k=a", webtest.Jar{}.Update(w)), want{})
	})
}

// TestCookieExpiry ports scs's cookie cases: the cookie that clears a
// session carries both Max-Age=0 and an Expires in the past (old browsers
// read only Expires), and a remember-me cookie both an Expires and a
// Max-Age (which wins over a client's wrong clock).
func TestCookieExpiry(t *testing.T) {
	a := newPeerApp(t, peerStores[0].open(t), sessionkit.Config{RememberMeLifetime: 48 * time.Hour})
	a.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/remember" {
			return false
		}
		s := sessionkit.FromContext(r.Context())
		s.SetPrincipal("alice")
		s.RememberMe(true)
		return true
	}
	w := a.do("/remember", nil)
	line := w.Header().Get("Set-Cookie")
	ck := w.Result().Cookies()[0]
	if d := time.Until(ck.Expires); d < 47*time.Hour || d > 49*time.Hour {
		t.Fatalf("remember-me cookie %q: Expires in %v, want 48h", line, d)
	}
	if ck.MaxAge < 47*3600 || ck.MaxAge > 48*3600 {
		t.Fatalf("remember-me cookie %q: Max-Age %d, want 48h", line, ck.MaxAge)
	}
	w = a.do("/destroy", webtest.Jar{}.Update(w))
	line = w.Header().Get("Set-Cookie")
	if !strings.Contains(line, "Max-Age=0") || !strings.Contains(line, "Expires=Thu, 01 Jan 1970 00:00:01 GMT") {
		t.Fatalf("the cookie that clears the session: %q, want Max-Age=0 and an Expires in the past", line)
	}
}
