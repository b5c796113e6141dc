package router

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A fast connection's state, for Shutdown.
const (
	stateIdle int32 = iota // waiting for a request
	stateActive
	stateClosed
)

// clientReaderSize bounds what the fast path takes: a request head and
// body larger than this go to net/http.
const clientReaderSize = 8 << 10

var (
	clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientReaderSize) }}
	clientWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	clientReaders.Put(br)
}

// fastConn is one client connection on the fast path. Its buffers live as
// long as it does, so a request allocates nothing to be routed.
type fastConn struct {
	s  *Server
	rt *Router
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	cw countWriter // bw's writer: fc.c, counting what reached it

	state    atomic.Int32
	deadline bool // a read deadline is set
	// now is the clock's last reading on this connection: when the
	// request being served began, then when it ended. The idle deadline
	// and pool ages count from it, as reading the clock costs about what
	// routing does.
	now         time.Time
	headRequest bool // the request being served is a HEAD
	peer        netip.Addr
	peerString  string
	peerTrusted bool

	bc     *bconn // the backend connection in use, closed if serve panics
	h      head
	out    []byte // the request as forwarded
	resp   []byte // the response head as received
	lines  []respLine
	keys   keyScratch
	prefs  []*backend
	names  []string
	values [][]byte
}

// countWriter counts the bytes written to w.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// outcome of one request on a fast connection.
type outcome uint8

const (
	keepOpen outcome = iota
	closeConn
	handOver
)

func (fc *fastConn) serve() {
	fc.br = clientReaders.Get().(*bufio.Reader)
	fc.br.Reset(fc.c)
	fc.bw = clientWriters.Get().(*bufio.Writer)
	fc.cw.w = fc.c
	fc.bw.Reset(&fc.cw)
	handed := false
	defer func() {
		if p := recover(); p != nil {
			// A bug must not take every other client's connection
			// down with this one: count it, log it, close this one.
			fc.rt.recovered(p, debug.Stack())
			if fc.bc != nil {
				fc.bc.close()
				fc.bc = nil
			}
		}
		fc.s.forget(fc)
		if !handed {
			fc.c.Close()
			putReader(fc.br)
		}
		fc.bw.Reset(nil)
		clientWriters.Put(fc.bw)
	}()
	fc.state.Store(stateActive)
	idle := fc.s.idleTimeout()
	for {
		if !fc.state.CompareAndSwap(stateActive, stateIdle) || fc.s.shutdown.Load() {
			return
		}
		if fc.br.Buffered() == 0 {
			if idle > 0 {
				if fc.now.IsZero() {
					fc.now = time.Now()
				}
				fc.c.SetReadDeadline(fc.now.Add(idle)) // from the end of the last response
				fc.deadline = true
			} else if fc.deadline {
				fc.c.SetReadDeadline(time.Time{})
				fc.deadline = false
			}
		}
		if _, err := fc.br.Peek(1); err != nil {
			return
		}
		if !fc.state.CompareAndSwap(stateIdle, stateActive) {
			return
		}
		switch fc.request() {
		case keepOpen:
			continue
		case closeConn:
			return
		}
		fc.c.SetReadDeadline(time.Time{})
		handed = fc.s.hand.give(&replayConn{Conn: fc.c, br: fc.br})
		return
	}
}

// request serves one request, or reports that net/http must.
func (fc *fastConn) request() outcome {
	n, err := fc.readHead()
	if err != nil {
		return closeConn
	}
	h := &fc.h
	if n == 0 || !parseHead(fc.peek(n), h) {
		return handOver
	}
	total := n + int(h.contentLength)
	if h.contentLength > fc.rt.cfg.MaxBodyBytes || total > fc.br.Size() {
		return handOver // net/http streams it, or refuses it
	}
	if fc.br.Buffered() < total {
		fc.c.SetReadDeadline(fc.rt.cfg.bodyDeadline(time.Now(), h.contentLength))
		fc.deadline = true
		start := time.Now()
		if _, err := fc.br.Peek(total); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Too slow a body: 408, and the connection closes.
				h.close = true
				method := methodString(h.method)
				fc.headRequest = method == http.MethodHead
				fc.writeError(http.StatusRequestTimeout, http.StatusText(http.StatusRequestTimeout))
				fc.done(method, fc.path(), http.StatusRequestTimeout, "", keyNone, start, fc.client(nil, keyNone))
				fc.bw.Flush()
			}
			return closeConn
		}
	}
	rt := fc.rt
	v := rt.view.Load()
	if !v.fast {
		return handOver
	}
	start := time.Now()
	fc.now = start
	key, kind := rt.headKey(h, fc.peer, &fc.keys)
	fc.prefs, fc.names = rt.prefer(v, key, kind, fc.prefs[:0], fc.names[:0], 2)
	fc.out = fc.buildRequest(fc.out[:0], fc.peek(total), n)
	method := methodString(h.method)
	fc.headRequest = method == http.MethodHead
	path := fc.path()
	client := ""
	if rt.cfg.AccessLog != nil {
		client = fc.client(key, kind)
	}
	fc.br.Discard(total) // h's slices are not used past here
	if len(fc.prefs) == 0 {
		fc.writeError(http.StatusServiceUnavailable, "no healthy backend")
		fc.done(method, path, http.StatusServiceUnavailable, "", kind, start, client)
		return fc.finish(h.close)
	}
	first := fc.prefs[0]
	first.inflight.Add(1)
	code, served, closeClient := fc.forward(method, path, h.contentLength == 0)
	first.inflight.Add(-1)
	fc.done(method, path, code, served.Name, kind, start, client)
	return fc.finish(closeClient)
}

// done counts a request and writes its access log line, as the net/http
// path does.
func (fc *fastConn) done(method, path string, code int, backend string, kind keyKind, start time.Time, client string) {
	rt := fc.rt
	fc.now = time.Now()
	d := fc.now.Sub(start)
	rt.metrics.served(backend, code, d)
	if rt.cfg.AccessLog == nil {
		return
	}
	// The record Logger.LogAttrs would make, without its reading the
	// clock again and walking the stack for a call site that never
	// changes.
	ctx := context.Background()
	h := rt.cfg.AccessLog.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	pc := accessLogPC.Load()
	if pc == 0 {
		var pcs [1]uintptr
		runtime.Callers(1, pcs[:])
		pc = pcs[0]
		accessLogPC.Store(pc)
	}
	r := slog.NewRecord(fc.now, slog.LevelInfo, "request", pc)
	r.AddAttrs(slog.String("method", method), slog.String("path", path),
		slog.Int("status", code), slog.String("backend", backend),
		slog.String("key", kind.String()), slog.Duration("duration", d),
		slog.String("client", client))
	h.Handle(ctx, r)
}

// accessLogPC is the program counter the fast path's access log records
// give as their source: in fastConn.done, found on the first record.
var accessLogPC atomic.Uintptr

// finish flushes the response and says whether the connection goes on.
func (fc *fastConn) finish(closeClient bool) outcome {
	if err := fc.bw.Flush(); err != nil || closeClient {
		return closeConn
	}
	return keepOpen
}

// peek returns the first n buffered bytes.
func (fc *fastConn) peek(n int) []byte {
	b, _ := fc.br.Peek(n)
	return b
}

// readHead waits for a whole request head and returns its length, or 0
// when it does not fit the buffer or does not end in CRLF CRLF; net/http
// reads those.
func (fc *fastConn) readHead() (int, error) {
	headerDeadline := false
	for {
		buf := fc.peek(fc.br.Buffered())
		if end := headEnd(buf); end != 0 {
			if end < 0 {
				return 0, nil
			}
			return end, nil
		}
		if len(buf) >= fc.br.Size() {
			return 0, nil
		}
		if !headerDeadline {
			fc.setHeaderDeadline()
			headerDeadline = true
		}
		if _, err := fc.br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// setHeaderDeadline bounds the wait for the rest of a request.
func (fc *fastConn) setHeaderDeadline() {
	if d := fc.s.headerTimeout(); d > 0 {
		fc.c.SetReadDeadline(time.Now().Add(d))
		fc.deadline = true
	}
}

// headEnd returns the length of the head in buf when it ends in CRLF
// CRLF, -1 when it ends with a bare LF, and 0 when it has not ended.
func headEnd(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return -1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			if i >= 2 && buf[i-2] == '\r' {
				return i + 2
			}
			return -1
		}
	}
}

// buildRequest appends the request as the backend gets it: the request
// line and header lines as received, less Connection and the forwarding
// headers, plus X-Forwarded-For, -Host and -Proto as the net/http path
// sets them, and the body.
func (fc *fastConn) buildRequest(out, raw []byte, n int) []byte {
	h := &fc.h
	out = append(out, raw[:bytes.IndexByte(raw, '\n')+1]...)
	// net/http sends Content-Length: 0 only for methods that expect a body.
	m := string(h.method)
	zeroLength := h.contentLength == 0 && m != http.MethodPost && m != http.MethodPut && m != http.MethodPatch
	for _, f := range h.fields {
		if !f.drop && !(zeroLength && equalFold(f.name, "content-length")) {
			out = append(out, f.line...)
		}
	}
	if h.pragmaNoCache && !h.cacheControl {
		out = append(out, "Cache-Control: no-cache\r\n"...) // as net/http's request parser adds
	}
	if fc.peer.IsValid() {
		out = append(out, "X-Forwarded-For: "...)
		if fc.peerTrusted {
			fc.values = h.values("x-forwarded-for", fc.values[:0])
			for _, v := range fc.values {
				out = append(append(out, v...), ", "...)
			}
		}
		out = append(append(out, fc.peerString...), "\r\n"...)
	}
	out = append(append(append(out, "X-Forwarded-Host: "...), h.host...), "\r\nX-Forwarded-Proto: http\r\n\r\n"...)
	return append(out, raw[n:]...)
}

// path returns the request's path as net/http's URL.Path has it.
func (fc *fastConn) path() string { return targetPath(fc.h.target) }

// targetPath returns the unescaped path of an origin-form target that
// validTarget accepted.
func targetPath(p []byte) string {
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if bytes.IndexByte(p, '%') < 0 {
		return string(p)
	}
	s, _ := url.PathUnescape(string(p))
	return s
}

// client returns the client address as the access log shows it. key and
// kind are the request's routing key: with kind keyIP, key is that
// address's text, found already. The peer's address costs no allocation.
func (fc *fastConn) client(key []byte, kind keyKind) string {
	if !fc.peerTrusted {
		return fc.peerString
	}
	if kind == keyIP {
		if string(key) == fc.peerString {
			return fc.peerString
		}
		return string(key)
	}
	if ip := fc.rt.headIP(&fc.h, fc.peer); ip != fc.peer {
		return ip.String()
	}
	return fc.peerString
}

// forward sends the request to its backends in order of preference, with
// the net/http path's retries: once more on a fresh connection when a
// reused one failed before any response (idempotent requests without a
// body), and once on the next preference after a refused connection, or
// a reset one for idempotent requests without a body. It writes the
// response, and returns its status, the backend that answered and whether
// the client connection must close.
func (fc *fastConn) forward(method, path string, bodiless bool) (code int, served *backend, closeClient bool) {
	rt := fc.rt
	idempotent := method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
	i, rerouted, fresh := 0, false, false
	for {
		b := fc.prefs[i]
		var bc *bconn
		reused := false
		if !fresh {
			bc = b.pool.getAt(fc.now) // at a message boundary, or nil
			reused = bc != nil
		}
		fresh = false
		if bc == nil {
			var err error
			if bc, err = b.pool.dial(); err != nil {
				rt.markDown(b, err)
				// Rerouted when the connection failed, not its TLS
				// handshake, as on the net/http path.
				if !rerouted && i+1 < len(fc.prefs) && isDialError(err) {
					rerouted, i = true, i+1
					rt.metrics.reroute(b.Name, fc.prefs[i].Name)
					continue
				}
				return fc.fail(path, err), b, fc.h.close
			}
		}
		fc.bc = bc
		got, err := fc.exchange(bc)
		if err != nil {
			fc.dropBackend()
			if reused && !got && idempotent && bodiless && !errors.Is(err, os.ErrDeadlineExceeded) {
				fresh = true
				continue
			}
			rt.markDown(b, err)
			if !rerouted && i+1 < len(fc.prefs) && idempotent && bodiless &&
				(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				rerouted, i = true, i+1
				rt.metrics.reroute(b.Name, fc.prefs[i].Name)
				continue
			}
			return fc.fail(path, err), b, fc.h.close
		}
		code, closeClient, err := fc.respond(b, method == http.MethodHead)
		if err != nil {
			return fc.fail(path, err), b, fc.h.close
		}
		return code, b, closeClient
	}
}

// exchange writes the request and reads the response head. got reports
// whether any of the response arrived.
func (fc *fastConn) exchange(bc *bconn) (got bool, err error) {
	if _, err := bc.Write(fc.out); err != nil {
		return false, err
	}
	return fc.readResponseHead(bc)
}

// maxResponseHead bounds a response head, each 1xx head included.
const maxResponseHead = 1 << 20

// errHeadTooLarge refuses a response head over maxResponseHead.
var errHeadTooLarge = errors.New("router: response head too large")

func (fc *fastConn) readResponseHead(bc *bconn) (got bool, err error) {
	bc.SetReadDeadline(time.Now().Add(fc.rt.cfg.ResponseHeaderTimeout))
	defer bc.SetReadDeadline(time.Time{})
	fc.resp = fc.resp[:0]
	lineStart := 0
	for {
		line, err := bc.br.ReadSlice('\n')
		got = got || len(line) > 0 || len(fc.resp) > 0
		fc.resp = append(fc.resp, line...)
		if len(fc.resp) > maxResponseHead {
			return got, errHeadTooLarge
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if err == io.EOF && got {
				err = io.ErrUnexpectedEOF
			}
			return got, err
		}
		l := fc.resp[lineStart:]
		if len(l) == 1 || len(l) == 2 && l[0] == '\r' { // a blank line, the first one too
			return true, nil
		}
		lineStart = len(fc.resp)
	}
}

// fail answers a request no backend served, as the net/http path's
// ErrorHandler does.
func (fc *fastConn) fail(path string, err error) int {
	code := http.StatusBadGateway
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		code = http.StatusGatewayTimeout // as net/http's "timeout awaiting response headers"
	}
	fc.rt.cfg.Logger.Warn("router: backend failed", slog.String("path", path), slog.Int("status", code), slog.String("err", err.Error()))
	fc.writeError(code, http.StatusText(code))
	return code
}

// writeError writes what http.Error does.
func (fc *fastConn) writeError(code int, msg string) {
	w := fc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(code))
	w.WriteString(" ")
	w.WriteString(http.StatusText(code))
	w.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: ")
	w.WriteString(time.Now().UTC().Format(http.TimeFormat))
	w.WriteString("\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(msg) + 1))
	if fc.h.close {
		w.WriteString("\r\nConnection: close")
	}
	w.WriteString("\r\n\r\n")
	if !fc.headRequest {
		w.WriteString(msg)
		w.WriteString("\n")
	}
}
