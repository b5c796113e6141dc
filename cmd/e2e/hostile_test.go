package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sloppyBackend is a raw HTTP/1.1 server on loopback that answers each
// request with its X-Id echoed in X-Echo-Id and the body, or, at random,
// misbehaves as sloppy backends do: stray bytes in the same write as the
// response (a body on HEAD, 204 or 304, bytes past Content-Length), stray
// bytes that are a whole response carrying another request's id, a head
// starting with a blank line, a bare CR in a value, conflicting lengths,
// a flood of 100 Continue.
type sloppyBackend struct {
	addr string
	rng  *rand.Rand
	mu   sync.Mutex // guards rng and last
	last string     // the last id answered: what a stray response carries
}

func startSloppyBackend(t *testing.T, seed uint64) *sloppyBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &sloppyBackend{addr: ln.Addr().String(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.serve(c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return b
}

// answer is a well-formed response to the request with id.
func answer(id string, body bool) string {
	s := fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Echo-Id: %s\r\nSet-Cookie: owner=%s\r\nContent-Length: %d\r\n\r\n", id, id, len("id=")+len(id))
	if body {
		s += "id=" + id
	}
	return s
}

func (b *sloppyBackend) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		id := req.Header.Get("X-Id")
		head := req.Method == http.MethodHead
		if req.URL.Path == "/healthz" || id == "" {
			if _, err := io.WriteString(c, answer("health", !head)); err != nil {
				return
			}
			continue
		}
		b.mu.Lock()
		kind := b.rng.IntN(12)
		other := b.last
		b.last = id
		b.mu.Unlock()
		strayResp := answer(other, true) // another client's answer
		var out string
		switch kind {
		case 0: // a body on HEAD, or on GET bytes past Content-Length
			out = answer(id, !head) + strayResp
		case 1:
			out = "HTTP/1.1 204 No Content\r\nX-Echo-Id: " + id + "\r\n\r\n" + strayResp
		case 2:
			out = "HTTP/1.1 304 Not Modified\r\nX-Echo-Id: " + id + "\r\n\r\n" + strayResp
		case 3:
			out = "\r\n" + answer(id, !head)
		case 4:
			out = "HTTP/1.1 200 OK\r\nX-Echo-Id: " + id + "\r\nX-Bad: a\rSet-Cookie: owner=" + other + "\r\nContent-Length: 0\r\n\r\n"
		case 5:
			out = "HTTP/1.1 200 OK\r\nX-Echo-Id: " + id + "\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\nok" + strayResp
		case 6:
			out = strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 30) + answer(id, !head)
		case 7:
			out = answer(id, !head) + "garbage after the body"
		default:
			out = answer(id, !head)
		}
		if _, err := io.WriteString(c, out); err != nil {
			return
		}
	}
}

// TestRouterNeverCrossesResponses runs the router binary in front of
// backends that misbehave at random while 32 clients, each on its own
// keep-alive connection, send requests carrying unique ids: no client may
// ever receive an answer carrying another's id, and the router must still
// serve at the end. It runs on both of the router's paths: its own
// HTTP/1.1 path (routing by token, and by client address) and net/http's
// (requests whose head is over the fast path's 8 KiB, which it hands
// over). SESSIONKIT_SEED replays a run.
func TestRouterNeverCrossesResponses(t *testing.T) {
	t.Run("fast path", func(t *testing.T) { neverCrosses(t, "") })
	t.Run("fast path, ip key", func(t *testing.T) { neverCrosses(t, "", "--keys", "ip") })
	t.Run("net/http path", func(t *testing.T) { neverCrosses(t, strings.Repeat("p", 9<<10), "--keys", "ip") })
}

// neverCrosses runs the test against a router started with args; pad,
// when not empty, is sent in a header of every request.
func neverCrosses(t *testing.T, pad string, args ...string) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SESSIONKIT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (SESSIONKIT_SEED=%d replays it)", seed, seed)
	fmt.Printf("TestRouterNeverCrossesResponses: seed %d\n", seed)

	var members []string
	for i := range 3 {
		b := startSloppyBackend(t, seed+uint64(i))
		members = append(members, fmt.Sprintf("n%d=http://%s", i+1, b.addr))
	}
	r := start(t, append([]string{"router", "--listen", "127.0.0.1:0", "--members", strings.Join(members, " "),
		"--health-interval", "200ms", "--access-log=false", "--log-level", "error"}, args...)...)
	m, err := r.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	base := m[1]

	const clients, perClient = 32, 80
	loadEnd := time.Now().Add(5 * time.Second)
	var wrong, ok, failed atomic.Int64
	var firstWrong atomic.Value
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{
				Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
				Timeout:   10 * time.Second,
			}
			defer hc.CloseIdleConnections()
			for n := 0; n < perClient && time.Now().Before(loadEnd); n++ {
				id := fmt.Sprintf("c%d-r%d", c, n)
				method := http.MethodGet
				if n%4 == 3 {
					method = http.MethodHead
				}
				req, _ := http.NewRequest(method, base+"/item", nil)
				req.Header.Set("X-Id", id)
				if pad != "" {
					req.Header.Set("X-Pad", pad)
				}
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				echo := resp.Header.Get("X-Echo-Id")
				cookie := resp.Header.Get("Set-Cookie")
				if echo != id || (cookie != "" && cookie != "owner="+id) || (method == http.MethodGet && string(body) != "id="+id) {
					wrong.Add(1)
					firstWrong.CompareAndSwap(nil, fmt.Sprintf("request %s got X-Echo-Id %q, Set-Cookie %q, body %q", id, echo, cookie, body))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d answers right, %d failed (502 and the like), %d to the wrong client", ok.Load(), failed.Load(), wrong.Load())
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d answers delivered to the wrong client (seed %d); the first: %v", n, seed, firstWrong.Load())
	}
	if ok.Load() == 0 {
		t.Errorf("no request was answered right (seed %d)", seed)
	}
	select {
	case <-r.Done():
		t.Fatalf("the router exited (seed %d): %v\n%s", seed, r.Err(), tail(r.Output(), 4000))
	default:
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("the router no longer serves (seed %d): %v\n%s", seed, err, tail(r.Output(), 4000))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the router answers %d at the end (seed %d)", resp.StatusCode, seed)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
