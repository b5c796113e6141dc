package router

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nok",
	"HTTP/1.1 200 OK\r\n\r\nuntil the end",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\n\r\n",
	"\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n",
	"HTTP/1.1 200 OK\nX-A: a\nX-B: b\n\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 02\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1  200\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 099 Odd\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n",
	"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 00000000000000000000001\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX-\xff: \xff\r\n\r\n",
}

// FuzzParseResponse holds the fast path's response parser to net/http's
// http.ReadResponse, as FuzzParseHead holds its request parser: for any
// bytes, both read the same status, framing (none, a length, chunked or
// until the connection closes), connection reuse and forwarded header
// fields (as net/http's reverse proxy forwards them), or both refuse.
// The fast path removes the fields a Connection field names even when
// that field also says close, which net/http's proxy misses. It refuses
// three things net/http reads: a status below 100, which net/http's
// server cannot write (the router answers 502 on both paths), a folded
// header line and a space in a field name (RFC 9112 forbids both).
func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, headRequest bool) {
		end := responseHeadEnd(b)
		if end < 0 {
			return // the fast path waits for the rest
		}
		fc := &fastConn{resp: b[:end]}
		r, err := fc.parseResponse()
		method := http.MethodGet
		if headRequest {
			method = http.MethodHead
		}
		resp, nerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), &http.Request{Method: method})
		switch {
		case err != nil && nerr != nil:
			return
		case err == nil && nerr != nil:
			t.Fatalf("the fast path read %q; net/http refused it: %v", b[:end], nerr)
		case err != nil:
			if resp.StatusCode < 100 || folded(b[:end]) || spaceInName(b[:end]) {
				return
			}
			t.Fatalf("the fast path refused %q: %v; net/http read it", b[:end], err)
		}
		if r.code != resp.StatusCode {
			t.Fatalf("status %d, net/http %d", r.code, resp.StatusCode)
		}
		noBody := headRequest || r.code < 200 || r.code == http.StatusNoContent || r.code == http.StatusNotModified
		framing, close := "eof", r.close
		switch {
		case noBody, !r.chunked && r.length == 0:
			framing = "none"
		case r.chunked:
			framing = "chunked"
		case r.length > 0:
			framing = "length"
		default:
			close = true
		}
		want := "eof"
		switch {
		case resp.Body == http.NoBody:
			want = "none"
		case len(resp.TransferEncoding) > 0:
			want = "chunked"
		case resp.ContentLength >= 0:
			want = "length"
		}
		if framing != want || framing == "length" && r.length != resp.ContentLength {
			t.Fatalf("framing %s (%d), net/http %s (%d)", framing, r.length, want, resp.ContentLength)
		}
		if close != resp.Close {
			t.Fatalf("close %v, net/http %v", close, resp.Close)
		}
		got := http.Header{}
		for _, l := range fc.lines[1:] {
			if !l.drop && !framingField(string(l.name)) {
				got.Add(string(l.name), string(l.value))
			}
		}
		if r.cacheControl {
			got.Add("Cache-Control", "no-cache")
		}
		wantHeader := resp.Header.Clone()
		// net/http's reader drops a Connection field that says close
		// before its proxy sees which fields it names; the fast path
		// removes them.
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
		tp.ReadLine()
		raw, _ := tp.ReadMIMEHeader()
		wantHeader["Connection"] = raw["Connection"]
		removeHopByHop(wantHeader)
		for k := range wantHeader {
			if framingField(k) {
				delete(wantHeader, k)
			}
		}
		if len(got) != 0 || len(wantHeader) != 0 {
			if !reflect.DeepEqual(got, wantHeader) {
				t.Fatalf("forwarded header %q, net/http's proxy %q", got, wantHeader)
			}
		}
	})
}

// responseHeadEnd returns the length of the head at the start of b as
// readResponseHead reads it, up to its first blank line, or -1.
func responseHeadEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		line := b[i : i+j+1]
		i += j + 1
		if len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			return i
		}
	}
	return -1
}

// folded reports whether a header line after the first starts with white
// space.
func folded(head []byte) bool {
	lines := strings.Split(string(head), "\n")
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			return true
		}
	}
	return false
}

// spaceInName reports whether a header field name holds a space, which
// net/http reads (go.dev/issue/34540) and RFC 9112 section 5.1 forbids.
func spaceInName(head []byte) bool {
	lines := strings.Split(string(head), "\n")
	for _, l := range lines[1:] {
		if name, _, ok := strings.Cut(l, ":"); ok && strings.Contains(name, " ") {
			return true
		}
	}
	return false
}

// framingField reports the fields that frame the body, compared apart:
// net/http's server writes its own.
func framingField(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// removeHopByHop removes what net/http's reverse proxy does not forward
// (httputil's removeHopByHopHeaders).
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(f)
	}
}

// TestParseResponseRefuses: what the router must not forward.
func TestParseResponseRefuses(t *testing.T) {
	for _, s := range []string{
		"\r\nHTTP/1.1 200 OK\r\n\r\n",
		"\n\n",
		"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX\x00A: a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 02\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 099 Odd\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\n X-A: a\r\n\r\n",
		"HTTX/1.1 200 OK\r\n\r\n",
	} {
		fc := &fastConn{resp: []byte(s)}
		if _, err := fc.parseResponse(); err == nil {
			t.Errorf("parseResponse took %q", s)
		}
	}
}

// TestChunkSize: chunk-size lines as net/http reads them.
func TestChunkSize(t *testing.T) {
	for line, want := range map[string]int64{
		"0\r\n": 0, "a\r\n": 10, "FF;ext=1\r\n": 255, "10 \r\n": 16, "7fffffffffffffff\r\n": 1<<63 - 1,
		"\r\n": -1, " 1\r\n": -1, "1\n": -1, "1\r\r\n": -1, "x\r\n": -1, "8000000000000000\r\n": -1, "00000000000000001\r\n": -1,
	} {
		n, ok := chunkSize([]byte(line))
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("chunkSize(%q) = %d, want %d", line, n, want)
		}
	}
}
