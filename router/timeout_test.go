package router_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/router"
)

// slowBody sends a request head declaring length bytes of body, then
// body bytes, one every gap (or none after the first ten when gap is 0),
// and returns the response and, if waitClose, whether the connection
// closed after it.
func slowBody(t *testing.T, addr string, length int, gap time.Duration, waitClose bool) (*http.Response, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n0123456789", length)
	stop := make(chan struct{})
	defer close(stop)
	if gap > 0 {
		go func() {
			tick := time.NewTicker(gap)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}
		}()
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if !waitClose {
		return resp, false
	}
	_, err = br.ReadByte()
	var ne net.Error
	return resp, err != nil && !(errors.As(err, &ne) && ne.Timeout()) // EOF, or a reset: the client was still sending
}

// TestSlowRequestBody: a body slower than MinBodyRate after its grace, or
// not whole within RequestBodyTimeout, ends with 408 and a closed
// connection, on the fast path (small bodies) and on net/http's (large
// ones, and a plain handler).
func TestSlowRequestBody(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    router.Config
		gap    time.Duration
		length int
	}{
		{"below the rate", router.Config{MinBodyRate: 1000, BodyRateGrace: 100 * time.Millisecond}, 0, 1000},
		{"past the deadline", router.Config{MinBodyRate: 1, BodyRateGrace: time.Hour, RequestBodyTimeout: 300 * time.Millisecond}, 10 * time.Millisecond, 1000},
	} {
		for _, path := range []string{"fast", "handed over", "net/http"} {
			t.Run(tc.name+"/"+strings.ReplaceAll(path, "/", ""), func(t *testing.T) {
				t.Parallel()
				cfg := tc.cfg
				cfg.Logger = quiet
				cfg.Health.Interval = time.Hour
				rt, err := router.New(cfg, []router.Member{{Name: "n1", URL: echoBackend(t, nil)}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rt.Close() })
				length := tc.length
				server := path
				if path == "handed over" {
					server, length = "fast", 100<<10 // too large for the fast path
				}
				addr := strings.TrimPrefix(serveOn(t, rt, server), "http://")
				resp, closed := slowBody(t, addr, length, tc.gap, true)
				if resp.StatusCode != http.StatusRequestTimeout || !closed {
					t.Fatalf("%d, connection closed %v; want 408 and closed", resp.StatusCode, closed)
				}
			})
		}
	}
}

// TestBodyAtTheRate: a body that keeps up with MinBodyRate is served.
func TestBodyAtTheRate(t *testing.T) {
	rt, err := router.New(router.Config{Logger: quiet, Health: router.HealthConfig{Interval: time.Hour}, MinBodyRate: 1, BodyRateGrace: 50 * time.Millisecond},
		[]router.Member{{Name: "n1", URL: echoBackend(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	resp, _ := slowBody(t, strings.TrimPrefix(serve(t, rt).URL, "http://"), 15, 10*time.Millisecond, false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d, want 200", resp.StatusCode)
	}
}
