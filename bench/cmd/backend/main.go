// Command backend is the smallest HTTP backend: it answers every request
// with its name, for measuring proxies in front of it. It reads request
// heads and Content-Length bodies itself and writes one preset response,
// so that it costs the proxies' benchmark far less than they do: run it
// with GOMAXPROCS=1 and the proxies, not the backends, are what bounds a
// run.
//
//	backend -listen 127.0.0.1:9001,127.0.0.1:9002 -name n1,n2
//
// serves n1 on the first address and n2 on the second, from one process.
// Chunked request bodies are refused (400, connection closed): a
// benchmark sends none.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
)

func main() {
	names := flag.String("name", "b1", "names to answer with, comma-separated, one per -listen address")
	listen := flag.String("listen", "127.0.0.1:9001", "addresses, comma-separated")
	flag.Parse()
	addrs, ns := strings.Split(*listen, ","), strings.Split(*names, ",")
	if len(addrs) != len(ns) {
		fmt.Fprintln(os.Stderr, "backend: give one -name per -listen address")
		os.Exit(2)
	}
	errc := make(chan error, len(addrs))
	for i, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		go func() { errc <- serve(ln, ns[i]) }()
	}
	log.Fatal(<-errc)
}

// serve answers every request on ln's connections as name.
func serve(ln net.Listener, name string) error {
	body := "served by " + name + "\n"
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend: " + name +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	r := responses{
		keep:  []byte(head + "\r\n" + body),
		close: []byte(head + "Connection: close\r\n\r\n" + body),
		bad:   []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
	}
	r.keepHead, r.closeHead = r.keep[:len(r.keep)-len(body)], r.close[:len(r.close)-len(body)]
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go r.conn(c)
	}
}

// responses are one backend's preset answers.
type responses struct {
	keep, close, keepHead, closeHead, bad []byte
}

// conn serves one connection until the client closes it, asks to, or
// sends what the backend does not read. Responses to pipelined requests
// go out in one write.
func (r *responses) conn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	bw := bufio.NewWriterSize(c, 16<<10)
	for {
		var h reqHead
		if err := h.read(br); err != nil {
			if err == errBad {
				bw.Write(r.bad)
				bw.Flush()
			}
			return
		}
		if _, err := br.Discard(int(h.length)); err != nil {
			return
		}
		switch {
		case h.close && h.head:
			bw.Write(r.closeHead)
		case h.close:
			bw.Write(r.close)
		case h.head:
			bw.Write(r.keepHead)
		default:
			bw.Write(r.keep)
		}
		if br.Buffered() == 0 || h.close {
			if bw.Flush() != nil || h.close {
				return
			}
		}
	}
}

// reqHead is what the backend reads of a request head.
type reqHead struct {
	length int64 // Content-Length
	close  bool  // Connection: close, or HTTP/1.0
	head   bool  // a HEAD request: no body in the answer
}

type badRequest struct{}

func (badRequest) Error() string { return "backend: request not served" }

var errBad error = badRequest{}

// read reads a request head up to its blank line.
func (h *reqHead) read(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	h.head = bytes.HasPrefix(line, []byte("HEAD "))
	h.close = bytes.HasSuffix(bytes.TrimRight(line, "\r\n"), []byte("HTTP/1.0"))
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return errBad
			}
			return err
		}
		if len(line) <= 2 {
			return nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return errBad
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return errBad
			}
			h.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return errBad
		case bytes.EqualFold(name, []byte("Connection")):
			h.close = bytes.EqualFold(value, []byte("close"))
		}
	}
}
