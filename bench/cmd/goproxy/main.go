// Command goproxy is the least a reverse proxy written in Go on net.Conn
// does: the floor under any such proxy, the router included, for
// bench/router.sh -g. Each client connection gets a goroutine and a
// backend connection of its own (the backends in turn); each request is
// read whole, written to the backend in one write, and its response read
// whole and written back in one write. It does not route, rewrite, pool,
// check a connection before reuse, time out or log. It reads only
// Content-Length framing and messages of up to 16 KiB, and it has no
// notion of HEAD or of 1xx and 304 responses: it is a measure for the
// benchmark's GET requests, not a proxy to run.
//
//	goproxy -listen 127.0.0.1:8080 -backends 127.0.0.1:9001,127.0.0.1:9002
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"log"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address")
	backends := flag.String("backends", "127.0.0.1:9001", "backend addresses, comma-separated")
	flag.Parse()
	addrs := strings.Split(*backends, ",")
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	var next atomic.Uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Print(err) // out of descriptors, say: the run goes on
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go proxy(c, addrs[next.Add(1)%uint64(len(addrs))])
	}
}

// proxy relays c's requests to a connection of its own to backend.
func proxy(c net.Conn, backend string) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	cr, br := bufio.NewReaderSize(c, 16<<10), bufio.NewReaderSize(b, 16<<10)
	for {
		if relay(cr, b) != nil || relay(br, c) != nil {
			return
		}
	}
}

var errFraming = errors.New("goproxy: a Content-Length that is not a length")

// relay reads one message (a head and a Content-Length body) from r and
// writes it to w in one write.
func relay(r *bufio.Reader, w net.Conn) error {
	n := 0
	for want := 1; n == 0; want = r.Buffered() + 1 {
		if _, err := r.Peek(want); err != nil {
			return err
		}
		buf, _ := r.Peek(r.Buffered())
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			n = i + 4
		}
	}
	head, _ := r.Peek(n)
	length := 0
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Content-Length")) {
			l, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil || l < 0 {
				return errFraming
			}
			length = l
		}
	}
	msg, err := r.Peek(n + length)
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	_, err = r.Discard(n + length)
	return err
}
