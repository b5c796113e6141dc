package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/webtest"
	"github.com/sessionkit/sessionkit/memstore"
)

// counting wraps a real store and counts the calls that reach it.
type counting struct {
	sessionkit.Store
	loads, writes atomic.Int64
	fail          atomic.Bool // every call fails, as when the store is down
}

var errDown = errors.New("connection refused")

func (c *counting) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	c.loads.Add(1)
	if c.fail.Load() {
		return sessionkit.Record{}, false, errDown
	}
	return c.Store.Load(ctx, t)
}

func (c *counting) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	c.writes.Add(1)
	if c.fail.Load() {
		return "", errDown
	}
	return c.Store.Commit(ctx, t, d)
}

func (c *counting) Create(ctx context.Context, t sessionkit.Token, r sessionkit.Record) (sessionkit.Token, error) {
	c.writes.Add(1)
	if c.fail.Load() {
		return "", errDown
	}
	return c.Store.Create(ctx, t, r)
}

func (c *counting) Touch(ctx context.Context, t sessionkit.Token, dl time.Time) (sessionkit.Token, error) {
	c.writes.Add(1)
	return c.Store.Touch(ctx, t, dl)
}

func (c *counting) Sessions(ctx context.Context, p string) ([]sessionkit.Info, error) {
	return c.Store.(sessionkit.Principals).Sessions(ctx, p)
}

func (c *counting) RevokeAll(ctx context.Context, p string) (int, error) {
	return c.Store.(sessionkit.Principals).RevokeAll(ctx, p)
}

type fixture struct {
	t     *testing.T
	store *counting
	m     *sessionkit.Manager
	h     http.Handler
}

func newFixture(t *testing.T, cfg sessionkit.Config, h http.HandlerFunc) *fixture {
	t.Helper()
	mem := memstore.New(memstore.Config{})
	t.Cleanup(func() { mem.Close() })
	store := &counting{Store: mem}
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	m, err := sessionkit.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, store: store, m: m, h: m.Handler(h)}
}

// do sends a request with the given cookie header and returns the recorder.
func (f *fixture) do(method, path, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// cookieOf returns "name=value" of the session cookie a response set.
func cookieOf(w *httptest.ResponseRecorder) string {
	for _, c := range w.Result().Cookies() {
		if strings.HasSuffix(c.Name, "session") {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	w := f.do("GET", "/set?k=name&v=ada", "")
	c := cookieOf(w)
	if !strings.HasPrefix(c, "__Host-session=") {
		t.Fatalf("cookie = %q", c)
	}
	if got := f.do("GET", "/get?k=name", c).Body.String(); got != "ada" {
		t.Fatalf("got %q, want ada", got)
	}
}

func TestCookieAttributes(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	ck := f.do("GET", "/set?k=a&v=b", "").Result().Cookies()[0]
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || !ck.Expires.IsZero() {
		t.Fatalf("cookie attributes: %+v", ck)
	}
	if len(ck.Value) != 43 {
		t.Fatalf("token of %d characters, want 43 (256 bits)", len(ck.Value))
	}

	f = newFixture(t, sessionkit.Config{Transport: &sessionkit.CookieTransport{Domain: "mall.test"}}, webtest.Mux())
	ck = f.do("GET", "/set?k=a&v=b", "").Result().Cookies()[0]
	if ck.Name != "__Secure-session" || ck.Domain != "mall.test" {
		t.Fatalf("with a Domain: %+v", ck)
	}

	f = newFixture(t, sessionkit.Config{Transport: &sessionkit.CookieTransport{Insecure: true, Name: "sid"}}, webtest.Mux())
	ck = f.do("GET", "/set?k=a&v=b", "").Result().Cookies()[0]
	if ck.Name != "sid" || ck.Secure {
		t.Fatalf("in development mode: %+v", ck)
	}
}

func TestPublicSuffixDomainRefused(t *testing.T) {
	for _, d := range []string{"com", "co.uk", "github.io", ".com", "test", "127.0.0.1"} {
		_, err := sessionkit.New(memstore.New(memstore.Config{}), sessionkit.Config{Transport: &sessionkit.CookieTransport{Domain: d}})
		if err == nil {
			t.Errorf("Domain %q accepted", d)
		}
	}
	for _, d := range []string{"mall.test", "example.com", "shop.example.co.uk"} {
		if _, err := sessionkit.New(memstore.New(memstore.Config{}), sessionkit.Config{Transport: &sessionkit.CookieTransport{Domain: d}, Logger: discard}); err != nil {
			t.Errorf("Domain %q refused: %v", d, err)
		}
	}
}

func TestLazyLoad(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	c := cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	loads, writes := f.store.loads.Load(), f.store.writes.Load()
	w := f.do("GET", "/none", c)
	if w.Body.String() != "untouched" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("untouched request: %q, Set-Cookie %q", w.Body, w.Header().Get("Set-Cookie"))
	}
	if f.store.loads.Load() != loads || f.store.writes.Load() != writes {
		t.Fatal("an untouched request reached the store")
	}
	// A read-only request loads, and writes nothing (its idle deadline is fresh).
	f.do("GET", "/get?k=a", c)
	if f.store.loads.Load() != loads+1 || f.store.writes.Load() != writes {
		t.Fatalf("read-only request: %d loads, %d writes; want 1, 0", f.store.loads.Load()-loads, f.store.writes.Load()-writes)
	}
	// A new visitor who only reads gets no session and no cookie.
	if w := f.do("GET", "/get?k=a", ""); w.Header().Get("Set-Cookie") != "" {
		t.Fatal("a read-only new visitor got a cookie")
	}
}

func TestBadCookiesStartFresh(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	good := cookieOf(f.do("GET", "/set?k=a&v=secret", ""))
	val := strings.TrimPrefix(good, "__Host-session=")
	for name, c := range map[string]string{
		"garbage":   "__Host-session=%%%garbage\x01;;",
		"truncated": "__Host-session=" + val[:20],
		"10KB":      "__Host-session=" + strings.Repeat("A", 10<<10),
		"tampered":  "__Host-session=" + val[:42] + "B",
		"empty":     "__Host-session=",
		"other":     "a=b; c",
	} {
		t.Run(name, func(t *testing.T) {
			w := f.do("GET", "/get?k=a", c)
			if w.Code != 200 || w.Body.String() != "" {
				t.Fatalf("status %d body %q", w.Code, w.Body)
			}
			w = f.do("GET", "/set?k=a&v=mine", c)
			nc := cookieOf(w)
			if w.Code != 200 || nc == "" || nc == good {
				t.Fatalf("no fresh session: status %d cookie %q", w.Code, nc)
			}
		})
	}
	if got := f.do("GET", "/get?k=a", good).Body.String(); got != "secret" {
		t.Fatalf("the good session was harmed: %q", got)
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	f := newFixture(t, sessionkit.Config{IdleTimeout: 100 * time.Millisecond, Lifetime: time.Hour}, webtest.Mux())
	c := cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	time.Sleep(150 * time.Millisecond) // past the idle deadline, whatever the cookie says
	if got := f.do("GET", "/get?k=a", c).Body.String(); got != "" {
		t.Fatalf("idle session still served: %q", got)
	}

	f = newFixture(t, sessionkit.Config{IdleTimeout: time.Hour, Lifetime: 150 * time.Millisecond}, webtest.Mux())
	c = cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	start := time.Now()
	for time.Since(start) < 200*time.Millisecond { // in constant use
		f.do("GET", "/set?k=a&v=b", c)
		time.Sleep(20 * time.Millisecond)
	}
	if got := f.do("GET", "/get?k=a", c).Body.String(); got != "" {
		t.Fatalf("session past its lifetime still served: %q", got)
	}
}

func TestTouchThrottled(t *testing.T) {
	// Every wait below leaves half a second for a loaded machine: a
	// quarter of the idle timeout, and the slack between the first idle
	// deadline and the one the touch set.
	const idle = 2 * time.Second
	f := newFixture(t, sessionkit.Config{IdleTimeout: idle}, webtest.Mux())
	created := time.Now()
	c := cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	writes := f.store.writes.Load()
	f.do("GET", "/get?k=a", c)
	if f.store.writes.Load() != writes {
		t.Fatal("a fresh session was touched")
	}
	time.Sleep(time.Until(created.Add(idle/4 + 100*time.Millisecond))) // past a quarter of the idle timeout
	f.do("GET", "/get?k=a", c)
	if f.store.writes.Load() != writes+1 {
		t.Fatal("a read after a quarter of the idle timeout did not touch")
	}
	time.Sleep(time.Until(created.Add(idle + 100*time.Millisecond))) // past the first deadline: alive thanks to the touch
	if got := f.do("GET", "/get?k=a", c).Body.String(); got != "b" {
		t.Fatalf("touched session lost: %q", got)
	}
}

func TestRenewKillsOldToken(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	old := cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	w := f.do("GET", "/login?u=alice", old)
	next := cookieOf(w)
	if next == "" || next == old {
		t.Fatal("login did not renew the token")
	}
	if got := f.do("GET", "/get?k=a", next).Body.String(); got != "b" {
		t.Fatalf("renewed session lost its data: %q", got)
	}
	if got := f.do("GET", "/get?k=a", old).Body.String(); got != "" {
		t.Fatalf("old token still serves the session: %q", got)
	}
}

// TestInFlightRequestAfterRenew: a request that loaded the session before
// another request renewed it, and then writes, gets 409 and writes nothing.
func TestInFlightRequestAfterRenew(t *testing.T) {
	loaded, renewed := make(chan struct{}), make(chan struct{})
	f := newFixture(t, sessionkit.Config{}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		switch r.URL.Path {
		case "/slow":
			s.Get("a")
			close(loaded)
			<-renewed
			s.Set("late", "write")
		default:
			webtest.Mux()(w, r)
		}
	})
	old := cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- f.do("GET", "/slow", old) }()
	<-loaded
	next := cookieOf(f.do("GET", "/login?u=alice", old))
	close(renewed)
	w := <-done
	if w.Code != http.StatusConflict || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("in-flight request: status %d, Set-Cookie %q; want 409 and no cookie", w.Code, w.Header().Get("Set-Cookie"))
	}
	if got := f.do("GET", "/get?k=late", next).Body.String(); got != "" {
		t.Fatal("the late write reached the renewed session")
	}
	f.do("GET", "/get?k=late", old)
	if _, found, _ := f.store.Load(context.Background(), sessionkit.Token(strings.TrimPrefix(old, "__Host-session="))); found {
		t.Fatal("the old token's session was recreated")
	}
}

func TestDestroy(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	c := cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	w := f.do("GET", "/destroy", c)
	ck := w.Result().Cookies()
	if len(ck) == 0 || ck[0].Name != "__Host-session" || ck[0].MaxAge >= 0 {
		t.Fatalf("destroy did not expire the cookie: %v", ck)
	}
	if got := f.do("GET", "/get?k=a", c).Body.String(); got != "" {
		t.Fatalf("destroyed session still served: %q", got)
	}
}

func TestConcurrentUpdates(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	c := cookieOf(f.do("GET", "/append?v=first", ""))
	var wg sync.WaitGroup
	for i := range 49 {
		wg.Go(func() {
			if w := f.do("GET", fmt.Sprintf("/append?v=%d", i), c); w.Code != 200 {
				t.Errorf("append: %d %s", w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	if got := f.do("GET", "/cart", c).Body.String(); got != "50" {
		t.Fatalf("cart has %s items, want 50", got)
	}
}

func TestSetAfterCommit(t *testing.T) {
	errc := make(chan error, 1)
	f := newFixture(t, sessionkit.Config{}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		s.Set("a", 1)
		io.WriteString(w, "body") // commits
		errc <- s.Set("b", 2)
	})
	w := f.do("GET", "/", "")
	if err := <-errc; !errors.Is(err, sessionkit.ErrCommitted) {
		t.Fatalf("Set after commit: %v, want ErrCommitted", err)
	}
	if cookieOf(w) == "" || w.Body.String() != "body" {
		t.Fatal("the committed part was lost")
	}
}

func TestEarlyHintsDoNotCommit(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		if err := s.Set("a", "after-103"); err != nil {
			t.Errorf("Set after 103: %v", err)
		}
		w.WriteHeader(200)
	})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
		t.Fatalf("status %d cookies %v", resp.StatusCode, resp.Cookies())
	}
}

// TestOptionalInterfaces drives Flush, Hijack and ReadFrom over a real
// connection: each commits first, and ResponseController reaches them.
func TestOptionalInterfaces(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		s.Set("a", 1)
		rc := http.NewResponseController(w)
		switch r.URL.Path {
		case "/flush":
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			io.WriteString(w, "flushed")
		case "/readfrom":
			io.Copy(w, strings.NewReader("copied"))
		case "/deadline":
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline through Unwrap: %v", err)
			}
		case "/hijack":
			conn, buf, err := rc.Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			buf.Flush()
		}
	})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	for path, want := range map[string]string{"/flush": "flushed", "/readfrom": "copied", "/deadline": "", "/hijack": "hijacked"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("%s: body %q, want %q", path, body, want)
		}
		if path != "/hijack" && len(resp.Cookies()) != 1 {
			t.Errorf("%s: no cookie, so no commit before the header", path)
		}
	}
	// The commit happened for the hijacked request too.
	if f.store.writes.Load() != 4 {
		t.Fatalf("%d commits, want 4", f.store.writes.Load())
	}
}

func TestStoreOutage(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	c := cookieOf(f.do("GET", "/set?k=a&v=b", ""))
	f.store.fail.Store(true)
	for _, path := range []string{"/get?k=a", "/set?k=a&v=c"} {
		w := f.do("GET", path, c)
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "ok") || w.Header().Get("Set-Cookie") != "" {
			t.Fatalf("%s during an outage: %d %q", path, w.Code, w.Body)
		}
	}
	f.store.fail.Store(false)
	if got := f.do("GET", "/get?k=a", c).Body.String(); got != "b" {
		t.Fatalf("after the outage: %q", got)
	}
}

func TestTooLarge(t *testing.T) {
	f := newFixture(t, sessionkit.Config{MaxSize: 100}, webtest.Mux())
	c := cookieOf(f.do("GET", "/set?k=a&v=small", ""))
	w := f.do("GET", "/set?k=b&v="+strings.Repeat("x", 200), c)
	if w.Code != 500 {
		t.Fatalf("oversized commit: %d", w.Code)
	}
	if got := f.do("GET", "/get?k=a", c).Body.String(); got != "small" {
		t.Fatalf("the previous session was harmed: %q", got)
	}
}

func TestRevokeAll(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	var alice []string
	for range 3 {
		alice = append(alice, cookieOf(f.do("GET", "/login?u=alice", "")))
	}
	bob := cookieOf(f.do("GET", "/login?u=bob", ""))
	f.do("GET", "/set?k=a&v=b", bob)
	infos, err := f.m.Sessions(context.Background(), "alice")
	if err != nil || len(infos) != 3 {
		t.Fatalf("Sessions = %d, %v", len(infos), err)
	}
	if n, err := f.m.RevokeAll(context.Background(), "alice"); n != 3 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	for _, c := range alice {
		f.do("GET", "/set?k=x&v=y", c)
	}
	if infos, _ := f.m.Sessions(context.Background(), "alice"); len(infos) != 0 {
		t.Fatal("a revoked session came back")
	}
	if got := f.do("GET", "/get?k=a", bob).Body.String(); got != "b" {
		t.Fatal("bob's session was revoked")
	}
}

func TestRememberMe(t *testing.T) {
	f := newFixture(t, sessionkit.Config{RememberMeLifetime: 48 * time.Hour}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		s.SetPrincipal("alice")
		s.RememberMe(true)
	})
	ck := f.do("GET", "/", "").Result().Cookies()[0]
	if d := time.Until(ck.Expires); d < 47*time.Hour || d > 49*time.Hour {
		t.Fatalf("remember-me cookie expires in %v, want 48h", d)
	}
}

func TestCreateLimit(t *testing.T) {
	f := newFixture(t, sessionkit.Config{CreateLimit: &sessionkit.CreateLimit{Rate: 0.001, Burst: 3}}, webtest.Mux())
	codes := map[int]int{}
	for range 5 {
		codes[f.do("GET", "/set?k=a&v=b", "").Code]++
	}
	if codes[200] != 3 || codes[429] != 2 {
		t.Fatalf("statuses %v, want 3×200 and 2×429", codes)
	}
}

func TestHeaderTransport(t *testing.T) {
	f := newFixture(t, sessionkit.Config{Transport: &sessionkit.HeaderTransport{}}, webtest.Mux())
	w := f.do("GET", "/set?k=a&v=api", "")
	tok := w.Header().Get("X-Session-Token")
	if len(tok) != 43 || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("token %q", tok)
	}
	r := httptest.NewRequest("GET", "/get?k=a", nil)
	r.Header.Set("X-Session-Token", tok)
	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Body.String() != "api" {
		t.Fatalf("got %q", w.Body)
	}
}

func TestNoSession(t *testing.T) {
	s := sessionkit.FromContext(context.Background())
	if s != nil {
		t.Fatal("a session outside the middleware")
	}
	if err := s.Set("a", 1); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Fatalf("Set on a nil session: %v", err)
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("Get on a nil session")
	}
}

func TestFlash(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		if r.URL.Path == "/flash" {
			s.Set("flash", "saved!")
			return
		}
		v, _ := s.Pop("flash")
		fmt.Fprint(w, v)
	})
	c := cookieOf(f.do("GET", "/flash", ""))
	if got := f.do("GET", "/", c).Body.String(); got != "saved!" {
		t.Fatalf("first read: %q", got)
	}
	if got := f.do("GET", "/", c).Body.String(); got != "<nil>" {
		t.Fatalf("second read: %q", got)
	}
}

func TestPopT(t *testing.T) {
	f := newFixture(t, sessionkit.Config{}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		if r.URL.Path == "/set" {
			s.Set("flash", "saved!")
			s.Set("n", 7)
			return
		}
		if _, ok := sessionkit.Pop[string](s, "n"); ok {
			fmt.Fprint(w, "an int popped as a string;")
		}
		msg, ok := sessionkit.Pop[string](s, "flash")
		n, _ := sessionkit.Get[int](s, "n")
		fmt.Fprintf(w, "%q %v %d", msg, ok, n)
	})
	c := cookieOf(f.do("GET", "/set", ""))
	if got := f.do("GET", "/", c).Body.String(); got != `"saved!" true 7` {
		t.Fatalf("first read: %s", got)
	}
	if got := f.do("GET", "/", c).Body.String(); got != `"" false 7` {
		t.Fatalf("second read: %s (a value of another type must stay)", got)
	}
}

// An upgrader hijacks the connection and writes its own handshake. The
// hijack commits the session first and leaves the token's Set-Cookie in
// w.Header(), which the upgrader sends when given it, as gorilla/websocket's
// Upgrade(w, r, w.Header()) does.
func TestHijackLeavesTheTokenInTheHeader(t *testing.T) {
	f := newFixture(t, sessionkit.Config{Transport: &sessionkit.CookieTransport{Insecure: true}}, func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.FromContext(r.Context()).Set("ws", "1"); err != nil {
			t.Error(err)
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
		w.Header().Write(brw)
		brw.WriteString("\r\n")
		brw.Flush()
	})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || len(resp.Cookies()) == 0 {
		t.Fatalf("the handshake: %d with cookies %v; want 101 with the session's", resp.StatusCode, resp.Cookies())
	}
}

// TestVaryKeepsHandlerSlice: the commit adds Cookie to the handler's Vary
// without writing into the spare room of the slice the handler set, which
// the handler may share between responses.
func TestVaryKeepsHandlerSlice(t *testing.T) {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	shared := []string{"Accept-Encoding", "Origin"}
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Vary"] = shared[:1]
		sessionkit.FromContext(r.Context()).Set("k", 1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(rec.Header()["Vary"], ","); got != "Accept-Encoding,Cookie" {
		t.Errorf("Vary = %q, want Accept-Encoding,Cookie", got)
	}
	if shared[1] != "Origin" {
		t.Errorf("the commit wrote %q into the handler's slice", shared[1])
	}
}
