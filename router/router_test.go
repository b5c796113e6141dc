package router_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/websocket"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/ring"
	"github.com/sessionkit/sessionkit/router"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// backend is a real HTTP server on loopback that answers with its name,
// and can be stopped and restarted on the same address.
type backend struct {
	name string
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func newBackend(t *testing.T, name string) *backend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: ln.Addr().String()}
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *backend) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", b.name)
		w.Header().Set("X-Seen-XFF", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Trailer", "X-Trailer")
		fmt.Fprintf(w, "%s %s", b.name, body)
		w.Header().Set("X-Trailer", "done-"+b.name)
	})
	mux.Handle("/ws", websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) }))
	srv := &http.Server{Handler: mux}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

func (b *backend) restart(t *testing.T) {
	var ln net.Listener
	err := waitFor(5*time.Second, func() (err error) {
		ln, err = net.Listen("tcp", b.addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b.serve(ln)
}

func (b *backend) member() router.Member {
	return router.Member{Name: b.name, URL: "http://" + b.addr}
}

func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fixture struct {
	t        *testing.T
	backends []*backend
	rt       *router.Router
	srv      *server
}

// server is a router.Server on loopback: the fast path, and net/http for
// what it hands over.
type server struct {
	URL    string
	s      *router.Server
	client *http.Client
}

// serveOn serves rt on one of its two paths and returns its URL: "fast",
// the router's own Server (its HTTP/1.1 fast path), or "net/http", the
// Router as a plain http.Handler.
func serveOn(t *testing.T, rt *router.Router, path string) string {
	if path == "fast" {
		return serve(t, rt).URL
	}
	srv := httptest.NewUnstartedServer(rt)
	srv.Config.ErrorLog = slog.NewLogLogger(quiet.Handler(), slog.LevelDebug)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func serve(t *testing.T, rt *router.Router) *server {
	return serveWith(t, rt, &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute})
}

func serveWith(t *testing.T, rt *router.Router, hs *http.Server) *server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{
		URL:    "http://" + ln.Addr().String(),
		s:      &router.Server{Router: rt, HTTP: hs},
		client: &http.Client{Transport: &http.Transport{}},
	}
	done := make(chan error, 1)
	go func() { done <- srv.s.Serve(ln) }()
	t.Cleanup(func() {
		srv.client.CloseIdleConnections()
		srv.s.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv
}

func (s *server) Client() *http.Client { return s.client }

func newFixture(t *testing.T, n int, cfg router.Config) *fixture {
	f := &fixture{t: t}
	var members []router.Member
	for i := range n {
		b := newBackend(t, fmt.Sprintf("n%d", i+1))
		f.backends = append(f.backends, b)
		members = append(members, b.member())
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.Health.Interval == 0 {
		cfg.Health.Interval = 50 * time.Millisecond
	}
	rt, err := router.New(cfg, members)
	if err != nil {
		t.Fatal(err)
	}
	f.rt = rt
	t.Cleanup(func() { rt.Close() })
	f.srv = serve(t, rt)
	return f
}

// get sends a request with the session token and returns the backend
// that served it.
func (f *fixture) get(token string) string {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-session", Value: token})
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Backend")
}

func tokens(n int) []string {
	var ts []string
	for range n {
		ts = append(ts, string(sessionkit.NewToken()))
	}
	return ts
}

// owners returns a token's preference list on a ring of the names.
func owners(t *testing.T, token string, names ...string) []string {
	var members []ring.Member
	for _, n := range names {
		members = append(members, ring.Member{Name: n, Weight: 1})
	}
	r, err := ring.New(ring.Config{}, members)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(token))
	return r.Owners(h[:], len(names), nil)
}

func TestSameTokenSameBackend(t *testing.T) {
	f := newFixture(t, 3, router.Config{})
	seen := map[string]int{}
	for _, tok := range tokens(150) {
		first := f.get(tok)
		if want := owners(t, tok, "n1", "n2", "n3")[0]; first != want {
			t.Fatalf("token went to %s, its ring owner is %s", first, want)
		}
		for range 3 {
			if got := f.get(tok); got != first {
				t.Fatalf("token moved from %s to %s", first, got)
			}
		}
		seen[first]++
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if seen[n] < 25 {
			t.Fatalf("distribution %v", seen)
		}
	}
}

func TestFailoverAndReturn(t *testing.T) {
	f := newFixture(t, 3, router.Config{})
	toks := tokens(300)
	before := map[string]string{}
	for _, tok := range toks {
		before[tok] = f.get(tok)
	}
	f.backends[1].stop() // n2 dies
	for _, tok := range toks {
		got := f.get(tok)
		prefs := owners(t, tok, "n1", "n2", "n3")
		switch {
		case before[tok] == "n2" && got != prefs[1]:
			t.Fatalf("n2's token went to %s, its second preference is %s", got, prefs[1])
		case before[tok] != "n2" && got != before[tok]:
			t.Fatalf("a token of %s moved to %s", before[tok], got)
		}
	}
	f.backends[1].restart(t)
	if err := waitFor(5*time.Second, func() error {
		for _, s := range f.rt.Status() {
			if !s.Healthy {
				return fmt.Errorf("%s unhealthy", s.Name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if got := f.get(tok); got != before[tok] {
			t.Fatalf("after n2 came back, a token of %s went to %s", before[tok], got)
		}
	}
}

func TestAddMemberMovesAQuarter(t *testing.T) {
	f := newFixture(t, 3, router.Config{})
	toks := tokens(800)
	before := map[string]string{}
	for _, tok := range toks {
		before[tok] = f.get(tok)
	}
	n4 := newBackend(t, "n4")
	if err := f.rt.AddMember(n4.member()); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, tok := range toks {
		got := f.get(tok)
		if got != before[tok] {
			if got != "n4" {
				t.Fatalf("a token moved from %s to %s, not to the new node", before[tok], got)
			}
			moved++
		}
	}
	if share := float64(moved) / float64(len(toks)); share < 0.17 || share > 0.33 {
		t.Fatalf("%.2f of tokens moved, want about 1/4", share)
	}
}

func TestNoKeyGoesToLeastLoaded(t *testing.T) {
	f := newFixture(t, 3, router.Config{})
	seen := map[string]int{}
	for range 30 {
		seen[f.get("")]++
	}
	// One request at a time: every backend is idle, and each takes its
	// turn.
	for _, name := range []string{"n1", "n2", "n3"} {
		if seen[name] < 5 {
			t.Fatalf("new sessions went %v, want them spread over the idle backends", seen)
		}
	}
	// Drained members take no new sessions.
	f.rt.Drain("n1", true)
	f.rt.Drain("n2", true)
	for range 10 {
		if got := f.get(""); got != "n3" {
			t.Fatalf("a fresh request went to draining %s", got)
		}
	}
	// ...but their sessions still reach them.
	for _, tok := range tokens(50) {
		if want := owners(t, tok, "n1", "n2", "n3")[0]; f.get(tok) != want {
			t.Fatalf("a session of a draining node moved")
		}
	}
}

func TestClientIPKeyIgnoresSpoofing(t *testing.T) {
	f := newFixture(t, 3, router.Config{Keys: []string{"ip"}})
	var first string
	for i := range 40 {
		req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.%d.%d", i, i))
		req.Header.Set("Forwarded", fmt.Sprintf("for=192.0.2.%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if first == "" {
			first = resp.Header.Get("X-Backend")
		}
		if resp.Header.Get("X-Backend") != first {
			t.Fatal("a spoofed X-Forwarded-For from an untrusted peer moved the client")
		}
		if xff := resp.Header.Get("X-Seen-XFF"); xff != "127.0.0.1" {
			t.Fatalf("backend saw X-Forwarded-For %q, want only the peer", xff)
		}
	}

	g := newFixture(t, 3, router.Config{Keys: []string{"ip"}, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	seen := map[string]bool{}
	for i := range 60 {
		req, _ := http.NewRequest("GET", g.srv.URL+"/", nil)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.Header.Get("X-Backend")] = true
		if xff := resp.Header.Get("X-Seen-XFF"); xff != fmt.Sprintf("198.51.100.%d, 127.0.0.1", i) {
			t.Fatalf("backend saw X-Forwarded-For %q", xff)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("a trusted proxy's clients reached %d backends, want 3", len(seen))
	}
}

func TestAdminAPI(t *testing.T) {
	f := newFixture(t, 2, router.Config{})
	admin := httptest.NewServer(f.rt.AdminHandler("s3cret"))
	defer admin.Close()
	do := func(method, path, token, body string) int {
		req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct{ method, path, token string }{
		{"GET", "/members", ""}, {"GET", "/members", "wrong"}, {"POST", "/members/n1/drain", ""}, {"DELETE", "/members/n1", "s3cret2"},
	} {
		if code := do(c.method, c.path, c.token, ""); code != 401 {
			t.Fatalf("%s %s with token %q: %d, want 401", c.method, c.path, c.token, code)
		}
	}
	n3 := newBackend(t, "n3")
	if code := do("POST", "/members", "s3cret", fmt.Sprintf(`{"name":"n3","url":"http://%s"}`, n3.addr)); code != 200 {
		t.Fatalf("add: %d", code)
	}
	if code := do("POST", "/members", "s3cret", `{"name":"bad","url":"ftp://x"}`); code != 400 {
		t.Fatalf("add a bad member: %d", code)
	}
	if code := do("POST", "/members/n3/drain", "s3cret", ""); code != 200 {
		t.Fatalf("drain: %d", code)
	}
	if code := do("DELETE", "/members/n1", "s3cret", ""); code != 200 || len(f.rt.Members()) != 2 {
		t.Fatalf("remove: %d, %d members", code, len(f.rt.Members()))
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code := do("GET", path, "", ""); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
	}
}

func TestNoHealthyBackend(t *testing.T) {
	f := newFixture(t, 2, router.Config{})
	for _, b := range f.backends {
		b.stop()
	}
	resp, err := http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp, _ = http.Get(f.srv.URL + "/")
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with every backend down: %d, want 503", resp.StatusCode)
	}
}

// TestRetryKeepsBody: a POST whose backend refuses the connection reaches
// the next preference with its body intact.
func TestRetryKeepsBody(t *testing.T) {
	f := newFixture(t, 3, router.Config{Health: router.HealthConfig{Interval: time.Hour}})
	tok := tokens(1)[0]
	prefs := owners(t, tok, "n1", "n2", "n3")
	for _, b := range f.backends {
		if b.name == prefs[0] {
			b.stop()
		}
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/", strings.NewReader("payload"))
	req.AddCookie(&http.Cookie{Name: "session", Value: tok})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != prefs[1]+" payload" {
		t.Fatalf("retried POST: %d %q, want %q", resp.StatusCode, body, prefs[1]+" payload")
	}
}

func TestWebSocketAndTrailers(t *testing.T) {
	f := newFixture(t, 2, router.Config{})
	ws, err := websocket.Dial(strings.Replace(f.srv.URL, "http", "ws", 1)+"/ws", "", f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := ws.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(ws, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}

	resp, err := http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, bufio.NewReader(resp.Body))
	resp.Body.Close()
	if !strings.HasPrefix(resp.Trailer.Get("X-Trailer"), "done-") {
		t.Fatalf("trailer lost: %v", resp.Trailer)
	}
}

func TestTwoRoutersAgree(t *testing.T) {
	f := newFixture(t, 3, router.Config{})
	var members []router.Member
	for _, b := range f.backends {
		members = append(members, b.member())
	}
	// Another router, members listed in another order.
	members[0], members[2] = members[2], members[0]
	rt2, err := router.New(router.Config{Logger: quiet}, members)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt2.Close() })
	g := &fixture{t: t, rt: rt2, srv: serve(t, rt2)}
	for _, tok := range tokens(200) {
		if a, b := f.get(tok), g.get(tok); a != b {
			t.Fatalf("routers disagree: %s vs %s", a, b)
		}
	}
}

func TestParseMembers(t *testing.T) {
	ms, err := router.ParseMembers(strings.NewReader("# nodes\nn1=http://127.0.0.1:1,2 n2=http://127.0.0.1:2\n\nn3=https://h:3 # third\n"))
	if err != nil || len(ms) != 3 || ms[0].Weight != 2 || ms[1].Weight != 1 || ms[2].URL != "https://h:3" {
		t.Fatalf("%+v %v", ms, err)
	}
	for _, bad := range []string{"n1", "n1=ftp://x", "n1=http://x,abc", "n1=http://x n1=http://y", "=http://x"} {
		if _, err := router.ParseMembers(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

var _ = context.Background
