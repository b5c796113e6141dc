package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

// Transport is the router's default backend transport. It speaks
// HTTP/1.1 to http:// and https:// backends over the connections
// Server's fast path uses, under the same rule: a connection goes back to
// the pool only at a message boundary, and is handed out again only after
// a non-blocking peek finds nothing readable on it (nor held, decrypted
// or not, by its TLS connection). net/http's Transport puts a connection
// back in its pool before it looks for stray bytes, so a request quick
// enough can read bytes a sloppy backend sent after the previous response
// (a body on a HEAD, 204 or 304, bytes past Content-Length) as its own
// response: another user's.
type Transport struct {
	// ResponseHeaderTimeout bounds the wait for each response head once
	// the request is written; past it RoundTrip fails with an error
	// that is context.DeadlineExceeded. Zero means no limit. Set it
	// before first use.
	ResponseHeaderTimeout time.Duration
	// TLSClientConfig configures TLS to https:// backends (trusted CAs,
	// a client certificate). Its ServerName, when empty, is each
	// backend's host; its NextProtos is replaced by HTTP/1.1's; without
	// a ClientSessionCache, one is made, so that new connections resume
	// sessions. Default nil: the system's roots. Set it before first
	// use.
	TLSClientConfig *tls.Config

	tlsOnce sync.Once
	tlsBase *tls.Config

	mu    sync.Mutex
	pools map[poolKey]*connPool
}

// poolKey names a pool: a backend's host:port, over TLS or not.
type poolKey struct {
	addr   string
	secure bool
}

// NewTransport returns the default backend transport: bounded dial, TLS
// handshake and response-header timeouts, and up to 256 idle keep-alive
// connections per backend.
func NewTransport() *Transport {
	return &Transport{ResponseHeaderTimeout: 60 * time.Second}
}

// pool returns the pool of connections to u's host, an http:// or
// https:// URL.
func (t *Transport) pool(u *url.URL) *connPool {
	k := poolKey{addr: hostPort(u), secure: u.Scheme == "https"}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pools[k]
	if p == nil {
		if t.pools == nil {
			t.pools = map[poolKey]*connPool{}
		}
		p = &connPool{addr: k.addr}
		if k.secure {
			p.tls = t.tlsConfig(u.Hostname())
		}
		t.pools[k] = p
	}
	return p
}

// tlsConfig returns the TLS configuration for connections to host.
func (t *Transport) tlsConfig(host string) *tls.Config {
	t.tlsOnce.Do(func() {
		c := t.TLSClientConfig.Clone()
		if c == nil {
			c = &tls.Config{}
		}
		c.NextProtos = []string{"http/1.1"}
		if c.ClientSessionCache == nil {
			c.ClientSessionCache = tls.NewLRUClientSessionCache(0)
		}
		t.tlsBase = c
	})
	c := t.tlsBase.Clone()
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

// release closes p, a pool no backend uses any more; connections in use
// close when they come back.
func (t *Transport) release(p *connPool) {
	k := poolKey{addr: p.addr, secure: p.tls != nil}
	t.mu.Lock()
	if t.pools[k] == p {
		delete(t.pools, k)
	}
	t.mu.Unlock()
	p.close()
}

// CloseIdleConnections closes the idle connections; the pools stay
// usable.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	pools := slices.Collect(maps.Values(t.pools))
	t.mu.Unlock()
	for _, p := range pools {
		p.closeIdle()
	}
}

// hostPort returns u's host with its port, the scheme's when it has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// RoundTrip implements http.RoundTripper. A request that fails on a
// reused connection before any byte of response arrived is sent once
// more on a new connection when it is idempotent and has no body: the
// backend may have closed the idle connection as it was taken.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.URL == nil:
		closeBody(req)
		return nil, errors.New("router: request without a URL")
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		closeBody(req)
		return nil, fmt.Errorf("router: unsupported protocol scheme %q", req.URL.Scheme)
	case req.URL.Host == "":
		closeBody(req)
		return nil, errors.New("router: request without a host")
	}
	p := t.pool(req.URL)
	bodiless := req.Body == nil || req.Body == http.NoBody
	replayable := bodiless && (req.Method == "" || req.Method == http.MethodGet || req.Method == http.MethodHead ||
		req.Method == http.MethodOptions || req.Method == http.MethodTrace)
	for fresh := false; ; fresh = true {
		var bc *bconn
		if !fresh {
			bc = p.get() // at a message boundary, or nil
		}
		reused := bc != nil
		if bc == nil {
			var err error
			if bc, err = p.dialContext(req.Context()); err != nil {
				closeBody(req)
				return nil, err
			}
		}
		resp, got, err := t.exchange(p, bc, req, bodiless)
		if err != nil && reused && !got && replayable && req.Context().Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		return resp, err
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// errHeaderTimeout is a backend that sent no response head within
// ResponseHeaderTimeout.
var errHeaderTimeout = fmt.Errorf("router: timeout awaiting response head: %w", context.DeadlineExceeded)

var backendWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

// exchange is one request on one backend connection.
type exchange struct {
	t    *Transport
	p    *connPool
	bc   *bconn
	stop func() bool // stops closing bc when the request's context ends

	// The request body is written by its own goroutine: a backend may
	// answer before it has read the whole body.
	body *recordedBody
	done chan struct{} // closed when the request is written, or failed to be

	mu       sync.Mutex
	headRead bool  // the final response head was read
	written  bool  // the whole request was written
	writeErr error // why it was not
}

// recordedBody records why the request body could not be read.
type recordedBody struct {
	io.ReadCloser
	err error
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// write writes the request to the backend, and arms the response-header
// timeout unless the response head came first.
func (x *exchange) write(req *http.Request) {
	bw := backendWriters.Get().(*bufio.Writer)
	bw.Reset(x.bc.Conn)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	backendWriters.Put(bw)
	x.mu.Lock()
	x.written, x.writeErr = err == nil, err
	if err == nil && !x.headRead {
		x.headDeadline()
	}
	x.mu.Unlock()
}

// headDeadline bounds the wait for the next response head.
func (x *exchange) headDeadline() {
	if d := x.t.ResponseHeaderTimeout; d > 0 {
		x.bc.SetReadDeadline(time.Now().Add(d))
	}
}

// exchange sends req on bc and reads the response head. got reports
// whether any of the response arrived.
func (t *Transport) exchange(p *connPool, bc *bconn, req *http.Request, bodiless bool) (resp *http.Response, got bool, err error) {
	ctx := req.Context()
	x := &exchange{t: t, p: p, bc: bc}
	x.stop = context.AfterFunc(ctx, func() { bc.Conn.Close() })
	start := bc.r.read
	fail := func(err error) (*http.Response, bool, error) {
		x.stop()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = errHeaderTimeout
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if x.body != nil {
			// As net/http's Transport, wait for the writer: the caller
			// may reuse the request, and a client's body that failed
			// (too slow, too large) is the cause to report, not the
			// context it cancelled. Closing the connection ends a
			// write; a read of the body is bounded by its own limits.
			bc.Conn.Close()
			<-x.done
			if x.body.err != nil {
				err = x.body.err
			}
		}
		got := bc.r.read > start
		bc.close()
		return nil, got, err
	}
	if bodiless {
		x.write(req)
		if x.writeErr != nil {
			return fail(x.writeErr)
		}
	} else {
		out := new(http.Request)
		*out = *req
		x.body = &recordedBody{ReadCloser: req.Body}
		out.Body = x.body
		x.done = make(chan struct{})
		go func() {
			x.write(out)
			close(x.done)
			if x.body.err != nil {
				bc.Conn.Close() // the request cannot be completed: stop waiting for its response
			}
		}()
	}
	for informational := 0; ; {
		bc.r.limit = bc.r.read + maxResponseHead
		resp, err = http.ReadResponse(bc.br, req)
		bc.r.limit = -1
		if err != nil {
			return fail(err)
		}
		code := resp.StatusCode
		if code == http.StatusSwitchingProtocols {
			if req.Header.Get("Upgrade") == "" {
				return fail(errBadResponse) // not an answer to this request
			}
			x.stop()
			bc.SetReadDeadline(time.Time{})
			resp.Body = &upgraded{bc: bc}
			return resp, true, nil
		}
		if code < 100 || code >= 200 {
			break
		}
		if informational++; informational > maxInformational {
			return fail(errTooManyInformational)
		}
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
		}
		x.mu.Lock()
		if x.written {
			x.headDeadline()
		}
		x.mu.Unlock()
	}
	x.mu.Lock()
	x.headRead = true
	bc.SetReadDeadline(time.Time{})
	x.mu.Unlock()
	if resp.Body == http.NoBody {
		x.finish(!resp.Close && !req.Close) // a HEAD, 204 or 304: checked at once
		return resp, true, nil
	}
	resp.Body = &respBody{x: x, body: resp.Body, keep: !resp.Close && !req.Close}
	return resp, true, nil
}

// maxWriteWait is how long a response that ended waits for its request's
// body to be written, as net/http waits, before its connection closes.
const maxWriteWait = 50 * time.Millisecond

// finish ends the exchange: the connection goes back to the pool when the
// response ended cleanly, the request was written whole and the request's
// context did not end; the pool checks that it is at a message boundary
// (see connPool). Otherwise it is closed.
func (x *exchange) finish(clean bool) {
	if !x.stop() {
		clean = false // the context ended: the connection is closed or closing
	}
	if clean && x.done != nil {
		select {
		case <-x.done:
		case <-time.After(maxWriteWait):
		}
		x.mu.Lock()
		clean = x.written
		x.mu.Unlock()
	}
	if clean {
		x.p.put(x.bc)
	} else {
		x.bc.close()
	}
}

// respBody is a response body: read to its end, it returns its
// connection to the pool; closed before, or failing, it closes it.
type respBody struct {
	x    *exchange
	body io.ReadCloser
	keep bool // the response allows reuse

	mu      sync.Mutex
	reading bool
	done    bool
}

// errBodyClosed is a read of a response body after Close.
var errBodyClosed = errors.New("router: read on closed response body")

func (b *respBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	b.reading = true
	b.mu.Unlock()
	n, err := b.body.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading = false
	switch {
	case b.done: // closed while reading
		return n, errBodyClosed
	case err == io.EOF:
		b.done = true
		b.x.finish(b.keep)
	case err != nil:
		b.done = true
		b.x.finish(false)
	}
	return n, err
}

func (b *respBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil
	}
	b.done = true
	if b.reading {
		// A Read holds the connection's reader: close the socket only,
		// which ends that Read.
		b.x.stop()
		b.x.bc.Conn.Close()
		return nil
	}
	b.x.finish(false)
	return nil
}

// upgraded is the connection after a 101 Switching Protocols, as the
// response's body: what the backend sends, read ahead or not, then the
// socket.
type upgraded struct {
	bc *bconn
}

func (u *upgraded) Read(p []byte) (int, error)  { return u.bc.br.Read(p) }
func (u *upgraded) Write(p []byte) (int, error) { return u.bc.Conn.Write(p) }
func (u *upgraded) Close() error                { return u.bc.Conn.Close() }
