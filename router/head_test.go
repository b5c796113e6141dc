package router

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"net/http"
	"reflect"
	"testing"
)

var headSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p/a%2Fb?q=1&r=%41 HTTP/1.1\r\nHost: example.com:8080\r\nCookie: __Host-session=abc; x=y\r\nUser-Agent: wrk\r\n\r\n",
	"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: a\r\nconnection: Keep-Alive, close\r\nx-forwarded-for: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: session=a\r\nCookie: session.1=b; __Secure-session=\"q\"\r\nX-Session-Token: t\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Session-Token:  tok  \r\nPragma: x\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
	"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
}

// FuzzParseHead holds the fast path's request parser to net/http's: any
// head parseHead accepts, http.ReadRequest reads with the same method,
// URI, protocol, Host, header fields, content length and Close; the path
// and the routing key agree too.
func FuzzParseHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	cfg := Config{}
	if err := cfg.setDefaults(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h head
		parseHead(b, &h) // any bytes: no panic
		end := headEnd(b)
		if end <= 0 || !parseHead(b[:end], &h) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("parseHead accepted %q; net/http: %v", b[:end], err)
		}
		if got := string(h.method); got != req.Method {
			t.Fatalf("method %q, net/http %q", got, req.Method)
		}
		if got := string(h.target); got != req.RequestURI {
			t.Fatalf("URI %q, net/http %q", got, req.RequestURI)
		}
		if req.Proto != "HTTP/1.1" {
			t.Fatalf("net/http read %s", req.Proto)
		}
		if got := string(h.host); got != req.Host {
			t.Fatalf("host %q, net/http %q", got, req.Host)
		}
		header := http.Header{}
		for _, f := range h.fields {
			if !equalFold(f.name, "host") {
				header.Add(string(f.name), string(f.value))
			}
		}
		if h.pragmaNoCache && !h.cacheControl {
			header.Set("Cache-Control", "no-cache")
		}
		if !reflect.DeepEqual(header, req.Header) {
			t.Fatalf("header %q, net/http %q", header, req.Header)
		}
		if h.contentLength != req.ContentLength {
			t.Fatalf("content length %d, net/http %d", h.contentLength, req.ContentLength)
		}
		if h.close != req.Close {
			t.Fatalf("close %v, net/http %v", h.close, req.Close)
		}
		if got := targetPath(h.target); got != req.URL.Path {
			t.Fatalf("path %q, net/http %q", got, req.URL.Path)
		}
		key, found, _ := tokenKey(&h, cfg.TokenCookie, "x-session-token", nil)
		var want [sha256.Size]byte
		wantFound := false
		for _, tr := range cfg.tokenTransports {
			if tok := tr.Token(req); tok != "" {
				want, wantFound = sha256.Sum256([]byte(tok)), true
				break
			}
		}
		if found != wantFound || key != want {
			t.Fatalf("token key found=%v, net/http's found=%v, or they differ", found, wantFound)
		}
	})
}

// TestParseHeadRefuses: what net/http must handle never takes the fast
// path.
func TestParseHeadRefuses(t *testing.T) {
	for _, s := range headSeeds[7:] {
		var h head
		b := []byte(s)
		if end := headEnd(b); end > 0 && parseHead(b[:end], &h) {
			t.Errorf("fast path took %q", s)
		}
	}
	for _, s := range headSeeds[:7] {
		var h head
		b := []byte(s)
		if end := headEnd(b); end <= 0 || !parseHead(b[:end], &h) {
			t.Errorf("fast path refused %q", s)
		}
	}
}
