package router

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// Backend connections, shared by the fast path and Transport.
const (
	dialTimeout       = 2 * time.Second
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
	idleSince time.Time
}

// connPool holds a backend's idle connections, most recently used first.
type connPool struct {
	addr   string
	mu     sync.Mutex
	idle   []*bconn
	closed bool
}

var backendReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// get returns an idle connection at a message boundary (see alive), or
// nil when there is none. Connections that are not are closed.
func (p *connPool) get() *bconn {
	for {
		c := p.pop()
		if c == nil || c.alive() {
			return c
		}
		c.close()
	}
}

// pop takes the most recently used idle connection.
func (p *connPool) pop() *bconn {
	now := time.Now()
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
	c := &bconn{Conn: nc, r: connReader{Conn: nc, limit: -1}, peek: newPeeker(nc)}
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
// buffered, nothing readable on the socket (stray bytes of a response
// already read, or the backend's end of stream), found without waiting
// and with one system call.
func (c *bconn) alive() bool {
	if c.br.Buffered() > 0 {
		return false // bytes nobody asked for
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
