//go:build unix

package router

import (
	"net"
	"syscall"
)

// connAlive peeks at the socket without blocking (Go's sockets are
// non-blocking): nothing to read means alive, end of stream or stray bytes
// not.
func connAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		alive = n < 0 && err == syscall.EAGAIN
		return true // never wait
	})
	return err == nil && alive
}
