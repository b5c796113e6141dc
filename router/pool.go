package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Backend connections, shared by the fast path and Transport.
const (
	dialTimeout       = 2 * time.Second
	handshakeTimeout  = 10 * time.Second
	maxIdlePerBackend = 256
	idleConnTimeout   = 90 * time.Second
)

// bconn is a keep-alive connection to a backend, used by one request at a
// time.
type bconn struct {
	net.Conn
	r         connReader // br's source
	br        *bufio.Reader
	peek      *peeker
	sock      *tlsSocket // under a TLS connection, nil over plain TCP
	idleSince time.Time
}

// connPool holds a backend's idle connections, most recently used first.
type connPool struct {
	addr   string
	tls    *tls.Config // nil: plain TCP
	mu     sync.Mutex
	idle   []*bconn
	closed bool
}

var backendReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// get returns an idle connection at a message boundary (see alive), or
// nil when there is none. Connections that are not are closed.
func (p *connPool) get() *bconn { return p.getAt(time.Now()) }

// getAt is get at time now, read from the clock a moment ago.
func (p *connPool) getAt(now time.Time) *bconn {
	for {
		c := p.pop(now)
		if c == nil || c.alive() {
			return c
		}
		c.close()
	}
}

// pop takes the most recently used idle connection.
func (p *connPool) pop(now time.Time) *bconn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(c.idleSince) < idleConnTimeout {
			return c
		}
		c.close()
	}
	return nil
}

// dial opens a new connection.
func (p *connPool) dial() (*bconn, error) { return p.dialContext(context.Background()) }

func (p *connPool) dialContext(ctx context.Context) (*bconn, error) {
	nc, err := (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	c := &bconn{Conn: nc, peek: newPeeker(nc)}
	if p.tls != nil {
		sock := &tlsSocket{Conn: nc}
		tc := tls.Client(sock, p.tls)
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, err
		}
		sock.tc = tc
		c.Conn, c.sock = &tlsConn{Conn: tc, sock: nc}, sock
	}
	c.r = connReader{Conn: c.Conn, limit: -1}
	c.br = backendReaders.Get().(*bufio.Reader)
	c.br.Reset(&c.r)
	return c, nil
}

// connReader counts the bytes read from a connection and, when limit is
// not negative, keeps their count from passing it: Transport reads each
// response head through it.
type connReader struct {
	net.Conn
	read  int64
	limit int64
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.limit >= 0 {
		left := r.limit - r.read
		if left <= 0 {
			return 0, errHeadTooLarge
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := r.Conn.Read(p)
	r.read += int64(n)
	return n, err
}

// put returns a connection whose last response was read to its end. A
// connection holding bytes past that end is closed instead: they would be
// read as the next request's response.
func (p *connPool) put(c *bconn) {
	if c.br.Buffered() > 0 {
		c.close()
		return
	}
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdlePerBackend {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// close closes the idle connections; connections in use close when they
// come back.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeIdle()
}

// closeIdle closes the idle connections.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// alive reports whether the connection is at a message boundary: nothing
// buffered (by the connection's reader, or decrypted and held by its TLS
// connection), nothing readable on the socket (stray bytes of a response
// already read, or the backend's end of stream), found without waiting
// and with one system call.
func (c *bconn) alive() bool {
	if c.br.Buffered() > 0 {
		return false // bytes nobody asked for
	}
	if c.sock != nil && !c.sock.drained() {
		return false
	}
	return c.peek.connAlive()
}

func (c *bconn) close() {
	c.Conn.Close()
	if c.br != nil {
		c.br.Reset(nil)
		backendReaders.Put(c.br)
		c.br = nil
	}
}

// tlsConn is a TLS connection to a backend. Close closes its socket
// without a close_notify alert, which could wait on a backend that does
// not read: HTTP/1.1 responses are delimited by their framing, and a
// connection closes only between messages or after a failure.
type tlsConn struct {
	*tls.Conn
	sock net.Conn
}

func (c *tlsConn) Close() error { return c.sock.Close() }

// tlsSocket is the socket under a backend's TLS connection. While it
// probes, its reads fail at once with a temporary error, which leaves the
// TLS connection usable: a TLS read then returns only what the TLS
// connection already holds, decrypted or whole records not yet
// decrypted, and reads nothing more from the network.
type tlsSocket struct {
	net.Conn
	tc      *tls.Conn
	probing bool
	buf     [1]byte
}

// errProbe ends a read of a probing tlsSocket.
var errProbe error = probeError{}

type probeError struct{}

func (probeError) Error() string   { return "router: probing a TLS connection" }
func (probeError) Timeout() bool   { return true }
func (probeError) Temporary() bool { return true }

func (s *tlsSocket) Read(p []byte) (int, error) {
	if s.probing {
		return 0, errProbe
	}
	return s.Conn.Read(p)
}

// drained reports whether the TLS connection holds no application data
// and no alert: what it holds of the last response's records that is
// not a post-handshake message (a session ticket, which it takes in)
// makes the connection unfit for another request. Bytes still on the
// socket are the peek's to find.
func (s *tlsSocket) drained() bool {
	s.probing = true
	n, err := s.tc.Read(s.buf[:])
	s.probing = false
	return n == 0 && err == errProbe
}
