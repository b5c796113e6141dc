package router_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/router"
)

// benchmarkPath sends GETs with a session cookie through the router over
// loopback, one at a time, to a backend like bench/cmd/backend.
func benchmarkPath(b *testing.B, fast bool) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "served by n1\n")
	}))
	defer backend.Close()
	rt, err := router.New(router.Config{Logger: quiet}, []router.Member{{Name: "n1", URL: backend.URL}})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	url := ""
	if fast {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &router.Server{Router: rt, HTTP: &http.Server{}}
		done := make(chan struct{})
		go func() { s.Serve(ln); close(done) }()
		defer func() { s.Close(); <-done }()
		url = "http://" + ln.Addr().String() + "/"
	} else {
		s := httptest.NewServer(rt)
		defer s.Close()
		url = s.URL + "/"
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Cookie", "session=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// The allocations these report are the client's and the backend's too;
// compare the two, or one before and after a change.
func BenchmarkNetHTTPPath(b *testing.B) { benchmarkPath(b, false) }
func BenchmarkFastPath(b *testing.B)    { benchmarkPath(b, true) }

// cheapBackend answers every request on its connections with the same
// small response, reading only request heads: the cheapest backend, so
// that a profile of the router shows the router.
func cheapBackend(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend: n1\r\nContent-Length: 13\r\n\r\nserved by n1\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.Cleanup(func() { c.Close() })
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if err := skipHead(br); err != nil {
						return
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// skipHead reads a head, up to its blank line.
func skipHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
	}
}

// readResponse reads a response with a Content-Length.
func readResponse(br *bufio.Reader) error {
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return errors.New("no Content-Length")
	}
	_, err := br.Discard(n)
	return err
}

// BenchmarkFastPathKey sends GETs with a key of each kind, one of 64 in
// rotation, through the fast path over loopback on one client
// connection, from a raw client to a raw backend (cheapBackend): what it
// measures, and what a CPU profile of it shows, is mostly the router.
//
//	go test -run '^$' -bench FastPathKey -cpuprofile cpu.out ./router
func BenchmarkFastPathKey(b *testing.B) {
	kinds := []struct {
		name, keys string
		line       func(i int) string // the request line and key header
	}{
		{"token", "token", func(i int) string {
			return fmt.Sprintf("GET / HTTP/1.1\r\nCookie: session=%043d\r\n", i)
		}},
		{"ip", "ip", func(i int) string {
			return fmt.Sprintf("GET / HTTP/1.1\r\nX-Forwarded-For: 198.51.100.%d\r\n", i+1)
		}},
		{"header", "header:X-User", func(i int) string {
			return fmt.Sprintf("GET / HTTP/1.1\r\nX-User: user-%d\r\n", i)
		}},
		{"cookie", "cookie:uid", func(i int) string {
			return fmt.Sprintf("GET / HTTP/1.1\r\nCookie: theme=dark; uid=u-%d\r\n", i)
		}},
		{"query", "query:uid", func(i int) string {
			return fmt.Sprintf("GET /?page=1&uid=u-%d HTTP/1.1\r\n", i)
		}},
	}
	for _, kind := range kinds {
		for _, logs := range []bool{false, true} {
			name := kind.name
			if logs {
				name += "/logs" // an access log line per request, as sessionkit router writes it, to nowhere
			}
			b.Run(name, func(b *testing.B) { benchmarkFastPathKey(b, kind.keys, kind.line, logs) })
		}
	}
}

func benchmarkFastPathKey(b *testing.B, keys string, line func(int) string, logs bool) {
	cfg := router.Config{Logger: quiet, Keys: []string{keys}, Health: router.HealthConfig{Interval: time.Hour},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	if logs {
		cfg.AccessLog = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rt, err := router.New(cfg, []router.Member{
		{Name: "n1", URL: cheapBackend(b)}, {Name: "n2", URL: cheapBackend(b)}, {Name: "n3", URL: cheapBackend(b)}})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &router.Server{Router: rt, HTTP: &http.Server{}}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	defer func() { s.Close(); <-done }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var reqs [64][]byte
	for i := range reqs {
		reqs[i] = []byte(line(i) + "Host: bench\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	}
	br := bufio.NewReader(c)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Write(reqs[i%64]); err != nil {
			b.Fatal(err)
		}
		if err := readResponse(br); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
