package router_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/router"
)

// rawBackend is a TCP server on loopback whose connections answer has
// serve: it gets the connection's number (from 0), the reader and the
// request head, and returns false to close the connection.
type rawBackend struct {
	addr  string
	conns atomic.Int32
}

func newRawBackend(t *testing.T, answer func(n int, c net.Conn, br *bufio.Reader, req *http.Request) bool) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(b.conns.Add(1)) - 1
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil || !answer(n, c, br, req) {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return b
}

func ok(c net.Conn, req *http.Request) bool {
	io.Copy(io.Discard, req.Body)
	_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	return err == nil
}

func fetch(t *testing.T, client *http.Client, method, url string, body io.Reader) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// TestTransportRetriesOnAFreshConnection: a request that fails on a
// reused connection before any response byte is sent again on a new
// connection when it is idempotent and bodiless, and not otherwise.
func TestTransportRetriesOnAFreshConnection(t *testing.T) {
	// The first connection answers once, then closes on the next
	// request without answering: an idle close racing the reuse.
	b := newRawBackend(t, func(n int, c net.Conn, _ *bufio.Reader, req *http.Request) bool {
		if n == 0 && req.Header.Get("X-Second") != "" {
			return false
		}
		return ok(c, req)
	})
	client := &http.Client{Transport: router.NewTransport(), Timeout: 10 * time.Second}
	if resp, body, err := fetch(t, client, "GET", "http://"+b.addr+"/", nil); err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("first: %v %q", err, body)
	}
	req, _ := http.NewRequest("GET", "http://"+b.addr+"/", nil)
	req.Header.Set("X-Second", "1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("a GET on a connection the backend closed was not retried: %v", err)
	}
	resp.Body.Close()
	if n := b.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}

	// A POST is not sent twice.
	b2 := newRawBackend(t, func(n int, c net.Conn, _ *bufio.Reader, req *http.Request) bool {
		if n == 0 && req.Header.Get("X-Second") != "" {
			return false
		}
		return ok(c, req)
	})
	if _, _, err := fetch(t, client, "GET", "http://"+b2.addr+"/", nil); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("POST", "http://"+b2.addr+"/", strings.NewReader("payload"))
	req.Header.Set("X-Second", "1")
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a POST was sent again: %d", resp.StatusCode)
	}
	if n := b2.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// TestTransportContextAndTimeout: a request whose context ends, or whose
// backend sends no head within ResponseHeaderTimeout, fails with that
// error and closes its backend connection.
func TestTransportContextAndTimeout(t *testing.T) {
	got := make(chan struct{}, 4)
	closed := make(chan struct{}, 4)
	b := newRawBackend(t, func(_ int, c net.Conn, br *bufio.Reader, _ *http.Request) bool {
		got <- struct{}{}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err == io.EOF {
			closed <- struct{}{}
		}
		return false
	})
	tr := router.NewTransport()
	tr.ResponseHeaderTimeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+b.addr+"/", nil)
		_, err := tr.RoundTrip(req)
		errc <- err
	}()
	<-got
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend connection stayed open after the context ended")
	}

	tr = router.NewTransport()
	tr.ResponseHeaderTimeout = 50 * time.Millisecond
	req, _ := http.NewRequest("GET", "http://"+b.addr+"/", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled: %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend connection stayed open after the timeout")
	}

	// A timeout on a reused connection is not sent again on another.
	b2 := newRawBackend(t, func(_ int, c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.Header.Get("X-Stall") == "" {
			return ok(c, req)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br.ReadByte()
		return false
	})
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if _, _, err := fetch(t, client, "GET", "http://"+b2.addr+"/", nil); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", "http://"+b2.addr+"/", nil)
	req.Header.Set("X-Stall", "1")
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled on a reused connection: %v, want context.DeadlineExceeded", err)
	}
	if n := b2.conns.Load(); n != 1 {
		t.Fatalf("%d connections: the timed-out request was sent again", n)
	}
}

// TestTransportRefuses: a head over 1 MiB, more than ten 1xx responses,
// and a 101 to a request that asked for no upgrade fail the request.
func TestTransportRefuses(t *testing.T) {
	for _, answer := range []string{
		"HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 1<<20) + "\r\nContent-Length: 2\r\n\r\nok",
		strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 11) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	} {
		b := newRawBackend(t, func(_ int, c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
			io.WriteString(c, answer)
			return true
		})
		req, _ := http.NewRequest("GET", "http://"+b.addr+"/", nil)
		if resp, err := router.NewTransport().RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Errorf("%.40q: %d, want an error", answer, resp.StatusCode)
		}
	}
	// Ten 1xx are passed on.
	b := newRawBackend(t, func(_ int, c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
		io.WriteString(c, strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 10)+"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	client := &http.Client{Transport: router.NewTransport(), Timeout: 10 * time.Second}
	if resp, body, err := fetch(t, client, "GET", "http://"+b.addr+"/", nil); err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("ten 1xx: %v %q", err, body)
	}
}

// TestTransportEarlyResponse: a backend that answers a large request
// body without reading it gets its answer to the client.
func TestTransportEarlyResponse(t *testing.T) {
	b := newRawBackend(t, func(_ int, c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
		io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig")
		return false
	})
	client := &http.Client{Transport: router.NewTransport(), Timeout: 10 * time.Second}
	resp, body, err := fetch(t, client, "POST", "http://"+b.addr+"/", strings.NewReader(strings.Repeat("x", 8<<20)))
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || body != "big" {
		t.Fatalf("%v %v %q, want 413", err, resp, body)
	}
}

// TestPathsShareBackendConnections: the fast path and the net/http path
// (here, a request the fast path hands over) take turns on one backend
// connection.
func TestPathsShareBackendConnections(t *testing.T) {
	b := newRawBackend(t, func(_ int, c net.Conn, _ *bufio.Reader, req *http.Request) bool { return ok(c, req) })
	rt, err := router.New(router.Config{Logger: quiet, Health: router.HealthConfig{Interval: time.Hour}},
		[]router.Member{{Name: "n1", URL: "http://" + b.addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	srv := serve(t, rt)
	for i := range 6 {
		raw := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
		if i%2 == 1 {
			raw = "GET / HTTP/1.0\r\nHost: a\r\n\r\n" // handed over to net/http
		}
		if resp := exchange(t, srv.URL, raw)[0]; resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("%d backend connections, want 1", n)
	}
}
