package router_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/router"
)

// echoBackend answers with the request it received, as JSON, and with
// the response the request asks for: /chunked streams with a trailer,
// /empty is a 204, /cached a 304.
func echoBackend(t *testing.T, newConns *atomic.Int64) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Del("Accept-Encoding") // net/http's transport adds gzip; the fast path forwards what the client sent
		seen, _ := json.Marshal(map[string]any{"method": r.Method, "uri": r.RequestURI, "host": r.Host, "header": h, "body": string(body), "len": r.ContentLength})
		w.Header().Set("X-Custom", "1")
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			w.Write(seen)
			w.(http.Flusher).Flush()
			w.Write([]byte("\nmore"))
			w.Header().Set("X-Sum", "42")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/cached":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Write(seen)
		}
	})}
	if newConns != nil {
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				newConns.Add(1)
			}
		}
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// exchange sends raw requests on one connection and reads a response to
// each.
func exchange(t *testing.T, addr string, reqs ...string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var resps []*http.Response
	for _, raw := range reqs {
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		for err == nil && resp.StatusCode < 200 { // 100 Continue
			resp, err = http.ReadResponse(br, req)
		}
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%q: body: %v", raw, err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		resps = append(resps, resp)
	}
	return resps
}

// TestFastPathForwardsAsNetHTTP sends the same requests through the fast
// path and through the Router as a plain http.Handler: the backend must
// see the same requests, the client the same responses.
func TestFastPathForwardsAsNetHTTP(t *testing.T) {
	var log bytes.Buffer
	rt, err := router.New(router.Config{
		Logger:         quiet,
		AccessLog:      slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{ReplaceAttr: dropTime})),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}, []router.Member{{Name: "n1", URL: echoBackend(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	fast := serve(t, rt)
	slow := httptest.NewServer(rt)
	t.Cleanup(slow.Close)
	reqs := []string{
		"GET / HTTP/1.1\r\nHost: shop.test\r\nCookie: __Host-session=abc; theme=dark\r\nUser-Agent: wrk\r\n\r\n",
		"GET /a%2Fb/c!d?q=1&r=%41 HTTP/1.1\r\nHost: shop.test:8080\r\nAccept: */*\r\nx-lower: v\r\nX-Twice: 1\r\nX-Twice: 2\r\n\r\n",
		"POST /login HTTP/1.1\r\nHost: shop.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nuser=alice&",
		"HEAD / HTTP/1.1\r\nHost: shop.test\r\n\r\n",
		"GET /chunked HTTP/1.1\r\nHost: shop.test\r\nPragma: no-cache\r\n\r\n",
		"GET /empty HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Host: evil\r\n\r\n",
		"GET /%7Euser/x%20y HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 198.51.100.7, 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n\r\n",
		"GET /cached HTTP/1.1\r\nHost: shop.test\r\nConnection: keep-alive\r\n\r\n",
		"DELETE /x HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	}
	got := exchange(t, fast.URL, reqs...)
	fastLog := log.String()
	log.Reset()
	want := exchange(t, slow.URL, reqs...)
	if fastLog != log.String() {
		t.Errorf("access log\nfast:\n%s\nnet/http:\n%s", fastLog, log.String())
	}
	for i := range reqs {
		g, w := got[i], want[i]
		gb, _ := io.ReadAll(g.Body)
		wb, _ := io.ReadAll(w.Body)
		for _, h := range []http.Header{g.Header, w.Header} {
			h.Del("Date")
		}
		if g.StatusCode != w.StatusCode || !reflect.DeepEqual(g.Header, w.Header) || string(gb) != string(wb) ||
			!reflect.DeepEqual(g.Trailer, w.Trailer) || g.Close != w.Close || g.ContentLength != w.ContentLength {
			t.Errorf("%q:\nfast    %d %v close=%v len=%d trailer %v\n%s\nnet/http %d %v close=%v len=%d trailer %v\n%s",
				reqs[i], g.StatusCode, g.Header, g.Close, g.ContentLength, g.Trailer, gb, w.StatusCode, w.Header, w.Close, w.ContentLength, w.Trailer, wb)
		}
	}
}

// TestFastPathAccessLogRecord: the fast path's access log record has
// the time the request ended and, for a handler that asks, its source in
// the router.
func TestFastPathAccessLogRecord(t *testing.T) {
	var log bytes.Buffer
	rt, err := router.New(router.Config{
		Logger:    quiet,
		AccessLog: slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{AddSource: true})),
	}, []router.Member{{Name: "n1", URL: echoBackend(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	fast := serve(t, rt)
	before := time.Now()
	exchange(t, fast.URL, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
	after := time.Now()
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2:\n%s", len(lines), log.String())
	}
	for _, l := range lines {
		var rec struct {
			Time   time.Time
			Msg    string
			Source struct{ File string }
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Msg != "request" || rec.Time.Before(before) || rec.Time.After(after) || !strings.HasSuffix(rec.Source.File, "/router/fast.go") {
			t.Errorf("record %s: want msg request, a time between %v and %v, a source in router/fast.go", l, before, after)
		}
	}
}

// TestHandOver: a request the fast path does not take hands the
// connection to net/http, bytes already read included.
func TestHandOver(t *testing.T) {
	f := newFixture(t, 2, router.Config{})
	resps := exchange(t, f.srv.URL,
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	)
	for i, want := range []string{"", "hello", "", "abc"} {
		body, _ := io.ReadAll(resps[i].Body)
		if resps[i].StatusCode != 200 || !strings.HasSuffix(string(body), " "+want) {
			t.Fatalf("response %d: %d %q, want a body ending %q", i, resps[i].StatusCode, body, want)
		}
	}
	// What only net/http takes: a head over the fast path's buffer, an
	// Expect, HTTP/1.0, each on a connection of its own.
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 10<<10) + "\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
	} {
		resp := exchange(t, f.srv.URL, raw)[0]
		if resp.StatusCode != 200 {
			t.Fatalf("%.40q: %d", raw, resp.StatusCode)
		}
	}
	// Pipelined, and a head split over writes.
	c, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHo")
	io.WriteString(c, "st: a\r\nConnection: close\r\n\r\n")
	all, err := io.ReadAll(c)
	if err != nil || strings.Count(string(all), "HTTP/1.1 200 OK") != 2 {
		t.Fatalf("pipelined: %v\n%s", err, all)
	}
}

// TestStreamingResponse: a response body reaches the client as the
// backend writes it, not when it ends.
func TestStreamingResponse(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	}))
	defer backend.Close()
	defer close(release)
	rt, err := router.New(router.Config{Logger: quiet}, []router.Member{{Name: "n1", URL: backend.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	srv := serve(t, rt)
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q %v before the backend finished", line, err)
	}
}

// TestBackendConnectionsReused: sequential requests share keep-alive
// connections to the backend.
func TestBackendConnectionsReused(t *testing.T) {
	var conns atomic.Int64
	rt, err := router.New(router.Config{Logger: quiet, Health: router.HealthConfig{Interval: time.Hour}},
		[]router.Member{{Name: "n1", URL: echoBackend(t, &conns)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	srv := serve(t, rt)
	for range 100 {
		resp, err := srv.Client().Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := conns.Load(); n > 2 {
		t.Fatalf("100 requests opened %d backend connections", n)
	}
}

// TestShutdownDrains: Shutdown lets a request in flight finish.
func TestShutdownDrains(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	}))
	defer backend.Close()
	rt, err := router.New(router.Config{Logger: quiet}, []router.Member{{Name: "n1", URL: backend.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	srv := serve(t, rt)
	got := make(chan string, 1)
	go func() {
		resp, err := srv.Client().Get(srv.URL + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.s.Shutdown(ctx)
	}()
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("request in flight during Shutdown: %q", b)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestFastPathMetrics: fast-path requests are counted like any other.
func TestFastPathMetrics(t *testing.T) {
	f := newFixture(t, 1, router.Config{})
	for range 5 {
		f.get("tok")
	}
	admin := httptest.NewServer(f.rt.AdminHandler("x"))
	defer admin.Close()
	resp, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `sessionkit_router_requests_total{backend="n1",code="200"} 5`; !strings.Contains(string(b), want) {
		t.Fatalf("metrics lack %s:\n%s", want, b)
	}
	if want := fmt.Sprintf(`sessionkit_router_request_duration_seconds_count{backend="n1"} %d`, 5); !strings.Contains(string(b), want) {
		t.Fatalf("metrics lack %s", want)
	}
}

// TestBackendClosesIdleConnections: a backend that closes its side after
// every response, without saying so, costs no request an error.
func TestBackendClosesIdleConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		closed <- struct{}{}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	rt, err := router.New(router.Config{Logger: quiet, Health: router.HealthConfig{Interval: time.Hour}},
		[]router.Member{{Name: "n1", URL: "http://" + ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	fast := serve(t, rt)
	for i := range 20 {
		method, body := "GET", ""
		if i%2 == 1 {
			method, body = "POST", "payload"
		}
		req, _ := http.NewRequest(method, fast.URL+"/", strings.NewReader(body))
		resp, err := fast.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("request %d (%s): %d %q", i, method, resp.StatusCode, b)
		}
		<-closed // the connection is closed before the next request, not as it is sent
	}
}

// dropTime drops what differs between two runs of a request from the
// access log: the time and the duration.
func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey || a.Key == "duration" {
		return slog.Attr{}
	}
	return a
}

// TestFastPathErrors: a dead backend's 502 and an empty member list's 503
// look as net/http's, HEAD included.
func TestFastPathErrors(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	for _, members := range [][]router.Member{{{Name: "n1", URL: deadURL}}, nil} {
		newRouter := func() *router.Router { // one each: the first request marks the backend down
			rt, err := router.New(router.Config{Logger: quiet, Health: router.HealthConfig{Interval: time.Hour}}, members)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rt.Close() })
			return rt
		}
		fast := serve(t, newRouter())
		slow := httptest.NewServer(newRouter())
		t.Cleanup(slow.Close)
		reqs := []string{
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		}
		got, want := exchange(t, fast.URL, reqs...), exchange(t, slow.URL, reqs...)
		for i := range reqs {
			g, w := got[i], want[i]
			gb, _ := io.ReadAll(g.Body)
			wb, _ := io.ReadAll(w.Body)
			g.Header.Del("Date")
			w.Header.Del("Date")
			if g.StatusCode != w.StatusCode || !reflect.DeepEqual(g.Header, w.Header) || string(gb) != string(wb) {
				t.Errorf("%d members, %q:\nfast     %d %v %q\nnet/http %d %v %q", len(members), reqs[i], g.StatusCode, g.Header, gb, w.StatusCode, w.Header, wb)
			}
		}
	}
}

// TestIdleTimeout: a fast connection idle past the server's IdleTimeout
// is closed.
func TestIdleTimeout(t *testing.T) {
	f := newFixture(t, 1, router.Config{})
	srv := serveWith(t, f.rt, &http.Server{IdleTimeout: 50 * time.Millisecond})
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
}
