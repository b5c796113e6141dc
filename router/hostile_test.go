package router_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proctest"

	"github.com/sessionkit/sessionkit/router"
)

// stray is a whole response a hostile backend sends where none was asked
// for: any client that receives it got another's bytes.
const stray = "HTTP/1.1 200 OK\r\nSet-Cookie: stolen=1\r\nContent-Length: 8\r\n\r\nid=stray"

// hostileRow is one way a backend misbehaves: answer writes to the
// backend connection, after reading the head of the request to /hostile;
// it returns false to close the connection.
type hostileRow struct {
	name   string
	req    string // the request to /hostile, as the client sends it
	answer func(c net.Conn, br *bufio.Reader, req *http.Request, stop <-chan struct{}) bool
	// stalls: the backend never finishes answering.
	stalls bool
	// late: the answer's stray bytes come in a write after the response
	// has ended. A router that reuses the connection before that write
	// cannot tell them from the next request's response (the limit
	// router/doc.go states, net/http's too): the rule holds for bytes
	// sent before the reuse, so hostileRace releases the racing requests
	// once the backend has written them.
	late bool
}

// send returns an answer that writes each of writes in turn, reading the
// request body first, and keeps the connection.
func send(writes ...string) func(net.Conn, *bufio.Reader, *http.Request, <-chan struct{}) bool {
	return func(c net.Conn, _ *bufio.Reader, req *http.Request, _ <-chan struct{}) bool {
		io.Copy(io.Discard, req.Body)
		for _, w := range writes {
			if _, err := io.WriteString(c, w); err != nil {
				return false
			}
		}
		return true
	}
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: a\r\nX-Id: hostile\r\n\r\n" }

var hostileRows = []hostileRow{
	{name: "HEAD with a body", req: "HEAD /hostile HTTP/1.1\r\nHost: a\r\nX-Id: hostile\r\n\r\n",
		answer: send("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-A: 1\r\n\r\n" + stray)},
	{name: "204 with a body", req: get("/hostile"), answer: send("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n" + stray)},
	{name: "304 with a body", req: get("/hostile"), answer: send("HTTP/1.1 304 Not Modified\r\nX-A: 1\r\n\r\n" + stray)},
	{name: "bytes after Content-Length in the same write", req: get("/hostile"),
		answer: send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + stray)},
	{name: "body longer than declared, in a later write", req: get("/hostile"), late: true,
		answer: send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stray)},
	{name: "head starting with CRLF", req: get("/hostile"), answer: send("\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
	{name: "head starting with LF", req: get("/hostile"), answer: send("\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
	{name: "bare CR in a value", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nok")},
	{name: "bare LF in a value", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 2\r\n\r\nok")},
	{name: "NUL in a value", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok")},
	{name: "bare CR in a name", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nX\rA: a\r\nContent-Length: 2\r\n\r\nok")},
	{name: "bare LF in a name", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nX\nA: a\r\nContent-Length: 2\r\n\r\nok")},
	{name: "NUL in a name", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nX\x00A: a\r\nContent-Length: 2\r\n\r\nok")},
	{name: "reason with CR", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nok")},
	{name: "duplicate identical Content-Length", req: get("/hostile"),
		answer: send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")},
	{name: "conflicting Content-Length", req: get("/hostile"),
		answer: send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!")},
	{name: "Content-Length with chunked", req: get("/hostile"),
		answer: send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")},
	{name: "two Transfer-Encodings", req: get("/hostile"),
		answer: send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")},
	{name: "bad chunk size", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n")},
	{name: "chunk size with a bare LF", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n")},
	{name: "chunk without its CRLF", req: get("/hostile"), answer: send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX0\r\n\r\n")},
	{name: "trailer with a bare CR", req: get("/hostile"),
		answer: send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: a\rb\r\n\r\n")},
	{name: "trailer announcing Content-Length", req: get("/hostile"),
		answer: send("HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")},
	{name: "a flood of 100 Continue", req: get("/hostile"),
		answer: send(strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 50) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
	{name: "a few 103 Early Hints", req: get("/hostile"),
		answer: send(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 3) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
	{name: "101 without Upgrade", req: get("/hostile"), answer: send("HTTP/1.1 101 Switching Protocols\r\n\r\n" + stray)},
	{name: "101 with Upgrade to a request without", req: get("/hostile"),
		answer: send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + stray)},
	{name: "status below 100", req: get("/hostile"), answer: send("HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok")},
	{name: "response before the request body was read",
		req: "POST /hostile HTTP/1.1\r\nHost: a\r\nX-Id: hostile\r\nContent-Length: 5\r\n\r\nhello",
		answer: func(c net.Conn, _ *bufio.Reader, req *http.Request, _ <-chan struct{}) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
			io.Copy(io.Discard, req.Body)
			return true
		}},
	{name: "close mid-body", req: get("/hostile"), answer: func(c net.Conn, _ *bufio.Reader, _ *http.Request, _ <-chan struct{}) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		return false
	}},
	{name: "close mid-chunk", req: get("/hostile"), answer: func(c net.Conn, _ *bufio.Reader, _ *http.Request, _ <-chan struct{}) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
		return false
	}},
	{name: "a backend that stalls", req: get("/hostile"), stalls: true,
		answer: func(c net.Conn, _ *bufio.Reader, _ *http.Request, stop <-chan struct{}) bool {
			<-stop
			return false
		}},
}

// hostileBackend is a raw TCP server on loopback: a request to /hostile
// gets the row's answer, any other a well-formed response whose body
// echoes the request's X-Id. Each answer to /hostile is reported on
// answered once written.
type hostileBackend struct {
	addr     string
	url      string // http:// or https:// and addr
	row      hostileRow
	answered chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

// newHostileBackend starts a hostile backend that speaks HTTP over TLS
// with backendCert when scheme is "https", over plain TCP otherwise.
func newHostileBackend(t *testing.T, row hostileRow, scheme string) *hostileBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &hostileBackend{addr: ln.Addr().String(), row: row, answered: make(chan struct{}, 16), stop: make(chan struct{})}
	b.url = "http://" + b.addr
	if scheme == "https" {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{backendCert()}})
		b.url = "https://" + b.addr
	}
	var mu sync.Mutex
	var conns []net.Conn
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				b.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(b.stop)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *hostileBackend) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.URL.Path == "/hostile" {
			keep := b.row.answer(c, br, req, b.stop)
			b.answered <- struct{}{}
			if !keep {
				return
			}
			continue
		}
		io.Copy(io.Discard, req.Body)
		body := "id=" + req.Header.Get("X-Id")
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
			return
		}
	}
}

// clientResult is what a client sees of one request. A response cut
// short shows as none: how much of it reached the client before the cut
// depends on buffering, on both paths.
type clientResult struct {
	Informational []int // the 1xx responses' codes
	Status        int   // 0: no whole response before the connection closed
	Header        http.Header
	Body          string
}

func (r clientResult) String() string {
	return fmt.Sprintf("1xx %v, status %d, header %v, body %q", r.Informational, r.Status, r.Header, r.Body)
}

// roundTrip writes raw on c and reads the response as a client does.
func roundTrip(c net.Conn, br *bufio.Reader, raw string) (res clientResult, open bool) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return res, false
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		panic(err)
	}
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return res, false
		}
		if resp.StatusCode < 200 {
			res.Informational = append(res.Informational, resp.StatusCode)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return res, false
		}
		res.Status, res.Body, res.Header = resp.StatusCode, string(b), resp.Header
		// What net/http's server adds or sets itself: the date, the
		// framing of small bodies, a sniffed Content-Type.
		for _, h := range []string{"Date", "Content-Length", "Transfer-Encoding", "Content-Type"} {
			res.Header.Del(h)
		}
		return res, !resp.Close
	}
}

// TestHostileBackends sends each row's request through the fast path and
// through net/http: the client must see the same on both, and afterwards
// no request on any client connection may see bytes meant for another.
// Over TLS backends (https:// members) too.
func TestHostileBackends(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			for _, row := range hostileRows {
				t.Run(row.name, func(t *testing.T) {
					t.Parallel()
					// The stalling row waits for the timeout; any other answer
					// must come before it even on a loaded machine.
					timeout := 30 * time.Second
					if row.stalls {
						timeout = 5 * time.Second
					}
					var results [2]clientResult
					for i, path := range []string{"fast", "net/http"} {
						b := newHostileBackend(t, row, scheme)
						rt, err := router.New(router.Config{
							Logger:                quiet,
							Health:                router.HealthConfig{Interval: time.Hour},
							ResponseHeaderTimeout: timeout,
							BackendTLS:            backendTLS(scheme),
						}, []router.Member{{Name: "n1", URL: b.url}})
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { rt.Close() })
						addr := strings.TrimPrefix(serveOn(t, rt, path), "http://")
						results[i] = hostileExchange(t, path, addr, b, row)
					}
					if !reflect.DeepEqual(results[0], results[1]) {
						t.Errorf("client sees\nfast:     %v\nnet/http: %v", results[0], results[1])
					}
				})
			}
		})
	}
}

// hostileExchange sends the row's request on a first connection, then
// well-formed requests, each with its own id, alternately on it and on
// new connections: each must get its own answer, on both paths.
func hostileExchange(t *testing.T, path, addr string, b *hostileBackend, row hostileRow) clientResult {
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	first, firstBR := dial()
	res, open := roundTrip(first, firstBR, row.req)
	if !row.stalls {
		select {
		case <-b.answered: // every byte the backend meant to send is sent
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the backend did not answer", path)
		}
	}
	for n := range 6 {
		c, br := first, firstBR
		if !open || n%2 == 1 {
			c, br = dial()
		}
		id := fmt.Sprintf("%s-%d", strings.ReplaceAll(path, "/", ""), n)
		got, _ := roundTrip(c, br, "GET /echo HTTP/1.1\r\nHost: a\r\nX-Id: "+id+"\r\n\r\n")
		if got.Status != 200 || got.Body != "id="+id || got.Header.Get("Set-Cookie") != "" {
			t.Fatalf("%s: request %s after the hostile one got %v", path, id, got)
		}
	}
	if !row.stalls {
		hostileRace(t, path, addr, b, row)
	}
	return res
}

// hostileRace sends the row's request again and again, each time with
// well-formed requests racing it on other client connections, so that
// they want backend connections while the hostile one's comes back:
// each must get its own answer. For a late row they start when the
// backend has written its stray bytes, as the hostile connection comes
// back or just after: every hand-out of it must find them.
func hostileRace(t *testing.T, path, addr string, b *hostileBackend, row hostileRow) {
	const rounds, racers = 30, 6
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	redial := func(cl *client) bool {
		if cl.c != nil {
			cl.c.Close()
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		cl.c, cl.br = c, bufio.NewReader(c)
		return true
	}
	clients := make([]client, racers+1) // the last sends the hostile requests
	defer func() {
		for _, cl := range clients {
			if cl.c != nil {
				cl.c.Close()
			}
		}
	}()
	var mu sync.Mutex
	var crossed []string
	// The backend answers well within a second; the wait allows the
	// race detector on a loaded machine, as the response header timeout
	// does (a -race run under heavy load once took over 10 s).
	answered := func() bool {
		select {
		case <-b.answered:
			return true
		case <-time.After(30 * time.Second):
			return false
		}
	}
	for r := range rounds {
		hostile, start := make(chan struct{}), make(chan struct{})
		var ready, wg sync.WaitGroup
		ready.Add(len(clients))
		for i := range clients {
			wg.Go(func() {
				cl := &clients[i]
				dialed := cl.c != nil || redial(cl)
				ready.Done()
				if !dialed {
					return
				}
				if i == racers {
					<-hostile
					if _, open := roundTrip(cl.c, cl.br, row.req); !open {
						cl.c.Close()
						cl.c = nil
					}
					return
				}
				<-start
				id := fmt.Sprintf("%s-r%d-%d", strings.ReplaceAll(path, "/", ""), r, i)
				got, open := roundTrip(cl.c, cl.br, "GET /echo HTTP/1.1\r\nHost: a\r\nX-Id: "+id+"\r\n\r\n")
				if got.Header.Get("Set-Cookie") != "" || strings.HasPrefix(got.Body, "id=") && got.Body != "id="+id {
					mu.Lock()
					crossed = append(crossed, fmt.Sprintf("request %s got %v", id, got))
					mu.Unlock()
				}
				if !open {
					cl.c.Close()
					cl.c = nil
				}
			})
		}
		ready.Wait() // every client connected: the round starts together
		close(hostile)
		ok := !row.late || answered()
		close(start)
		wg.Wait()
		if ok && !row.late {
			ok = answered()
		}
		if !ok {
			t.Fatalf("%s: the backend did not answer in round %d", path, r)
		}
	}
	if len(crossed) > 0 {
		t.Fatalf("%s: %d of %d requests racing the hostile one got another's answer; the first: %s", path, len(crossed), rounds*racers, crossed[0])
	}
}

// panicHandler is an access log that panics on the request for /panic:
// a bug anywhere in serving a connection.
type panicHandler struct{ slog.Handler }

func (h panicHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "path" && a.Value.String() == "/panic" {
			panic("injected")
		}
		return true
	})
	return nil
}

// TestPanicClosesOnlyItsConnection: a panic while serving one client
// connection closes it, is logged once with its stack and counted, and
// every other connection goes on, on both paths.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	for _, path := range []string{"fast", "net/http"} {
		t.Run(strings.ReplaceAll(path, "/", ""), func(t *testing.T) {
			var log proctest.Buffer
			rt, err := router.New(router.Config{
				Logger:    slog.New(slog.NewTextHandler(&log, nil)),
				AccessLog: slog.New(panicHandler{slog.NewTextHandler(io.Discard, nil)}),
				Health:    router.HealthConfig{Interval: time.Hour},
			}, []router.Member{{Name: "n1", URL: echoBackend(t, nil)}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rt.Close() })
			addr := strings.TrimPrefix(serveOn(t, rt, path), "http://")
			other, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			otherBR := bufio.NewReader(other)
			if res, _ := roundTrip(other, otherBR, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); res.Status != 200 {
				t.Fatalf("before: %v", res)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: a\r\n\r\n")
			if _, err := io.Copy(io.Discard, c); err != nil { // read to the end: the connection closes
				t.Fatalf("the panicking connection: %v", err)
			}
			for range 3 {
				if res, open := roundTrip(other, otherBR, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); res.Status != 200 || !open {
					t.Fatalf("another connection after the panic: %v", res)
				}
			}
			if n := strings.Count(log.String(), "panic serving a connection"); n != 1 {
				t.Fatalf("%d log lines of the panic, want 1:\n%s", n, log.String())
			}
			if !strings.Contains(log.String(), "goroutine") || !strings.Contains(log.String(), "panicHandler.Handle") {
				t.Fatalf("the log lacks the stack:\n%s", log.String())
			}
			if got := metric(t, rt, "sessionkit_router_panics_total"); got != "1" {
				t.Fatalf("sessionkit_router_panics_total %s, want 1", got)
			}
		})
	}
}

// metric returns the value of an unlabelled metric from the admin API.
func metric(t *testing.T, rt *router.Router, name string) string {
	t.Helper()
	admin := httptest.NewServer(rt.AdminHandler("x"))
	defer admin.Close()
	resp, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}
