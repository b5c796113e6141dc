//go:build unix

package router

import (
	"net"
	"syscall"
)

// peeker looks at a connection's socket without blocking (Go's sockets
// are non-blocking) and without allocating: made once per connection.
type peeker struct {
	rc    syscall.RawConn
	fn    func(fd uintptr) bool // peek, bound once
	alive bool
	buf   [1]byte
}

func newPeeker(c net.Conn) *peeker {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &peeker{rc: rc}
	p.fn = p.peek
	return p
}

func (p *peeker) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK)
	p.alive = n < 0 && err == syscall.EAGAIN
	return true // never wait
}

// connAlive reports whether nothing is readable on the socket: one
// recvfrom(MSG_PEEK). End of stream or stray bytes are not alive.
func (p *peeker) connAlive() bool {
	if p == nil {
		return true
	}
	p.alive = false
	if err := p.rc.Read(p.fn); err != nil {
		return false
	}
	return p.alive
}
