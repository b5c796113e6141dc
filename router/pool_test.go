package router

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestReuseOnlyAtMessageBoundary: the pool hands out a connection only
// when nothing is buffered or readable on it, and the check does not
// wait.
func TestReuseOnlyAtMessageBoundary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &connPool{addr: ln.Addr().String()}
	dial := func() (*bconn, net.Conn) {
		bc, err := p.dial()
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		return bc, srv
	}

	quiet, _ := dial()
	p.put(quiet)
	if got := p.get(); got != quiet {
		t.Fatal("a quiet idle connection was not reused")
	}
	quiet.close()

	stray, srv := dial()
	p.put(stray)
	io.WriteString(srv, "HTTP/1.1 200 OK\r\n\r\n")
	if err := waitRead(stray); err != nil {
		t.Fatal(err)
	}
	if got := p.get(); got != nil {
		t.Fatal("a connection with bytes readable on it was reused")
	}

	closed, srv := dial()
	p.put(closed)
	srv.Close()
	if err := waitRead(closed); err != nil {
		t.Fatal(err)
	}
	if got := p.get(); got != nil {
		t.Fatal("a connection the backend closed was reused")
	}

	buffered, srv := dial()
	io.WriteString(srv, "ab")
	buffered.br.ReadByte() // the reader holds "b"
	p.put(buffered)
	if got := p.get(); got != nil {
		t.Fatal("a connection with bytes buffered was put back")
	}
}

// waitRead waits until bytes or the end of stream are readable on c's
// socket.
func waitRead(c *bconn) error {
	deadline := time.Now().Add(5 * time.Second)
	for c.peek.connAlive() {
		if time.Now().After(deadline) {
			return io.ErrNoProgress
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
