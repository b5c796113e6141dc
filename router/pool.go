package router

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// The fast path's backend connections, sized as NewTransport sizes
// net/http's.
const (
	dialTimeout           = 2 * time.Second
	maxIdlePerBackend     = 256
	idleConnTimeout       = 90 * time.Second
	responseHeaderTimeout = 60 * time.Second
)

// bconn is a keep-alive connection to a backend, used by one request at a
// time.
type bconn struct {
	net.Conn
	br        *bufio.Reader
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

// get returns an idle connection, or nil when there is none.
func (p *connPool) get() *bconn {
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
func (p *connPool) dial() (*bconn, error) {
	nc, err := (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).Dial("tcp", p.addr)
	if err != nil {
		return nil, err
	}
	br := backendReaders.Get().(*bufio.Reader)
	br.Reset(nc)
	return &bconn{Conn: nc, br: br}, nil
}

// put returns a connection whose last response was read to its end.
func (p *connPool) put(c *bconn) {
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
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// alive reports whether the backend has not closed the connection while
// it was idle, without waiting.
func (c *bconn) alive() bool {
	if c.br.Buffered() > 0 {
		return false // bytes nobody asked for
	}
	return connAlive(c.Conn)
}

func (c *bconn) close() {
	c.Conn.Close()
	if c.br != nil {
		c.br.Reset(nil)
		backendReaders.Put(c.br)
		c.br = nil
	}
}
