package router

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves a Router on plain-HTTP listeners with a fast path: a
// connection whose requests are plain HTTP/1.1 is forwarded by the router
// itself, over its own keep-alive connections to the backends, with no
// per-request allocation in routing; the first
// request that is anything more (Transfer-Encoding, Expect, Upgrade,
// HTTP/1.0, a large body or head, an absolute URI...) hands the
// connection, bytes already read included, to HTTP for good. Both paths
// route, retry, count and log alike.
//
// The fast path runs, whatever the routing keys, when the Router's
// Config.Transport was left nil and Config.Trace is unset; otherwise
// Serve is HTTP.Serve. For TLS,
// use HTTP.ServeTLS.
type Server struct {
	// Router routes the requests.
	Router *Router
	// HTTP serves the connections the fast path hands over. Its
	// Handler must be Router (nil is set to Router); its IdleTimeout,
	// ReadHeaderTimeout and ReadTimeout apply to fast connections too.
	// Default: an http.Server with no timeouts. Set it before Serve.
	HTTP *http.Server

	mu       sync.Mutex
	conns    map[*fastConn]struct{}
	hand     *handoff
	shutdown atomic.Bool
}

// Serve accepts connections on ln until Shutdown or Close, and returns
// http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	if s.HTTP == nil {
		s.HTTP = &http.Server{}
	}
	if s.HTTP.Handler == nil {
		s.HTTP.Handler = s.Router
	}
	if !s.Router.fast {
		return s.HTTP.Serve(ln)
	}
	hand := &handoff{ln: ln, conns: make(chan net.Conn), done: make(chan struct{})}
	s.mu.Lock()
	s.hand = hand
	if s.conns == nil {
		s.conns = map[*fastConn]struct{}{}
	}
	s.mu.Unlock()
	served := make(chan error, 1)
	go func() { served <- s.HTTP.Serve(hand) }()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				<-served
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			hand.Close()
			<-served
			return err
		}
		delay = 0
		fc := s.newConn(c)
		if fc == nil {
			c.Close()
			continue
		}
		go fc.serve()
	}
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in flight on both paths, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	var err error
	if s.HTTP != nil {
		err = s.HTTP.Shutdown(ctx)
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		if s.closeIdle() == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.shutdown.Store(true)
	var err error
	if s.HTTP != nil {
		err = s.HTTP.Close()
	}
	s.mu.Lock()
	for fc := range s.conns {
		fc.state.Store(stateClosed)
		fc.c.Close()
	}
	s.mu.Unlock()
	return err
}

// closeIdle closes the connections waiting for a request and returns how
// many remain.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if fc.state.CompareAndSwap(stateIdle, stateClosed) {
			fc.c.Close()
		}
	}
	return len(s.conns)
}

func (s *Server) newConn(c net.Conn) *fastConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return nil
	}
	fc := &fastConn{s: s, rt: s.Router, c: c}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		fc.peer = ap.Addr().Unmap()
		fc.peerString = fc.peer.String()
		fc.peerTrusted = s.Router.resolver.Trusts(fc.peer)
	}
	s.conns[fc] = struct{}{}
	return fc
}

func (s *Server) forget(fc *fastConn) {
	s.mu.Lock()
	delete(s.conns, fc)
	s.mu.Unlock()
}

func (s *Server) idleTimeout() time.Duration {
	if s.HTTP.IdleTimeout != 0 {
		return s.HTTP.IdleTimeout
	}
	return s.HTTP.ReadTimeout
}

func (s *Server) headerTimeout() time.Duration {
	if s.HTTP.ReadHeaderTimeout != 0 {
		return s.HTTP.ReadHeaderTimeout
	}
	return s.HTTP.ReadTimeout
}

// handoff is the listener HTTP serves: it yields the connections the
// fast path hands over.
type handoff struct {
	ln    net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

// Close closes the real listener too, which ends Serve's accept loop.
func (h *handoff) Close() error {
	h.once.Do(func() {
		close(h.done)
		h.ln.Close()
	})
	return nil
}

func (h *handoff) Addr() net.Addr { return h.ln.Addr() }

func (h *handoff) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.done:
		return false
	}
}

// replayConn is a connection handed to net/http: it reads first what the
// fast path had read.
type replayConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		putReader(c.br)
		c.br = nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close the connection as it does a
// *net.TCPConn.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
