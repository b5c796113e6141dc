package router

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
)

// maxInformational bounds the 1xx responses the router passes on before
// the final one: a backend that sends more gets 502.
const maxInformational = 10

// maxTrailerBytes bounds the trailer section of a chunked response, as
// net/http bounds it by its reader's size.
const maxTrailerBytes = 4 << 10

// respLine is one line of the response head, without its line end.
type respLine struct {
	line, name, value []byte
	drop              bool
}

// errBadResponse is a response the router cannot forward.
var errBadResponse = errors.New("router: malformed response from backend")

// errTooManyInformational is a backend sending more than
// maxInformational 1xx responses to one request.
var errTooManyInformational = errors.New("router: too many 1xx responses from backend")

// respond writes the response whose head fc.resp holds, then its body, to
// the client. It returns the backend connection (fc.bc) to the pool only
// when the response ended cleanly at a message boundary. An error means
// nothing but 1xx responses was written to the client.
func (fc *fastConn) respond(b *backend, headRequest bool) (code int, closeClient bool, err error) {
	for informational := 0; ; informational++ {
		r, err := fc.parseResponse()
		if err != nil || r.code == http.StatusSwitchingProtocols {
			// The fast path never asks for an upgrade: a 101 is not an
			// answer to its request.
			fc.dropBackend()
			return 0, false, cmpOr(err, errBadResponse)
		}
		if r.code < 200 { // 1xx: pass it on, the final response follows
			if informational == maxInformational {
				fc.dropBackend()
				return 0, false, errTooManyInformational
			}
			fc.writeHead(r, false)
			if err := fc.bw.Flush(); err != nil {
				fc.dropBackend()
				return r.code, true, nil
			}
			if _, err := fc.readResponseHead(fc.bc); err != nil {
				fc.dropBackend()
				return 0, false, err
			}
			continue
		}
		noBody := headRequest || r.code == http.StatusNoContent || r.code == http.StatusNotModified
		untilEOF := !noBody && !r.chunked && r.length < 0
		closeClient = fc.h.close || untilEOF || fc.s.shutdown.Load()
		sent := fc.cw.n
		fc.writeHead(r, closeClient)
		switch {
		case noBody:
		case r.chunked:
			err = copyChunked(fc.bw, fc.bc.br)
		case r.length >= 0:
			err = copyN(fc.bw, fc.bc.br, r.length)
		default:
			err = copyN(fc.bw, fc.bc.br, -1)
		}
		if err != nil && fc.cw.n == sent {
			// Nothing of this response reached the client: it gets none,
			// as from net/http, whose proxy aborts the same way.
			fc.bw.Reset(&fc.cw)
		}
		if err != nil || r.close || untilEOF {
			fc.dropBackend()
			return r.code, closeClient || err != nil, nil
		}
		bc := fc.bc
		fc.bc = nil
		b.pool.put(bc) // put closes it instead when it holds more bytes
		return r.code, closeClient, nil
	}
}

// dropBackend closes the backend connection in use.
func (fc *fastConn) dropBackend() {
	if fc.bc != nil {
		fc.bc.close()
		fc.bc = nil
	}
}

func cmpOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

type respInfo struct {
	code    int
	length  int64 // -1 when absent
	chunked bool
	close   bool // the backend connection cannot be reused
	// cacheControl: net/http's response parser adds Cache-Control:
	// no-cache to a Pragma: no-cache response that has none.
	cacheControl bool
}

// parseResponse reads the response head in fc.resp into fc.lines, marking
// the lines net/http's reverse proxy does not forward. It accepts what
// http.ReadResponse accepts, and reads the same status, framing and
// header fields (a fuzz test holds the two together), except that it
// refuses, where net/http reads on, a status below 100 (which net/http's
// server cannot write), a folded header line and a space in a field name
// (RFC 9112 forbids both).
func (fc *fastConn) parseResponse() (respInfo, error) {
	r := respInfo{length: -1}
	fc.lines = fc.lines[:0]
	rest := fc.resp
	status, rest := cutRespLine(rest)
	major, minor, code, ok := statusLine(status)
	if !ok {
		return r, errBadResponse
	}
	r.code = code
	fc.lines = append(fc.lines, respLine{line: status})
	var (
		lengths, encodings     int
		firstLength            []byte
		hasClose, hasKeepAlive bool
		connTokens             bool // Connection lists other fields
		pragmaSeen, pragmaNC   bool
		cacheControl           bool
	)
	for len(rest) > 0 {
		var line []byte
		line, rest = cutRespLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := headerField(line)
		if !ok {
			return r, errBadResponse // a folded line too
		}
		l := respLine{line: line, name: name, value: value}
		switch {
		case equalFold(name, "content-length"):
			lengths++
			if lengths == 1 {
				firstLength = value
			} else if !bytes.Equal(value, firstLength) {
				return r, errBadResponse
			} else {
				l.drop = true // net/http forwards one
			}
		case equalFold(name, "transfer-encoding"):
			l.drop = true
			encodings++
			// HTTP/1.0's is ignored; net/http takes HTTP/0.0 for 1.1.
			if major > 1 || major == 1 && minor >= 1 || major == 0 && minor == 0 {
				if encodings > 1 || !equalFold(value, "chunked") {
					return r, errBadResponse
				}
				r.chunked, l.drop = true, false
			}
		case equalFold(name, "connection"):
			l.drop = true
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				switch tok = trimOWS(tok); {
				case len(tok) == 0:
				case equalFold(tok, "close"):
					hasClose = true
				case equalFold(tok, "keep-alive"):
					hasKeepAlive = true
				default:
					connTokens = true
				}
			}
		case equalFold(name, "pragma"):
			if !pragmaSeen {
				pragmaSeen, pragmaNC = true, string(value) == "no-cache"
			}
		case equalFold(name, "cache-control"):
			cacheControl = true
		case equalFold(name, "keep-alive"), equalFold(name, "proxy-connection"), equalFold(name, "proxy-authenticate"),
			equalFold(name, "proxy-authorization"), equalFold(name, "te"), equalFold(name, "upgrade"):
			l.drop = true
		}
		fc.lines = append(fc.lines, l)
	}
	if lengths > 0 {
		n, ok := parseResponseLength(firstLength)
		if !ok {
			return r, errBadResponse
		}
		r.length = n
	}
	switch {
	case major < 1:
		r.close = true
	case major == 1 && minor == 0:
		r.close = hasClose || !hasKeepAlive
	default:
		r.close = hasClose
	}
	r.cacheControl = pragmaNC && !cacheControl
	for i := range fc.lines[1:] {
		l := &fc.lines[i+1]
		switch {
		case r.chunked && equalFold(l.name, "content-length"):
			l.drop = true
		case equalFold(l.name, "trailer"):
			if !r.chunked {
				l.drop = true // a hop-by-hop field for net/http's proxy
			} else if !validTrailerNames(l.value) {
				return r, errBadResponse
			}
		}
		if connTokens && !l.drop && !equalFold(l.name, "content-length") && !equalFold(l.name, "transfer-encoding") &&
			fc.namedInConnection(l.name) { // the framing stays
			l.drop = true
		}
	}
	return r, nil
}

// namedInConnection reports whether a Connection field lists name.
func (fc *fastConn) namedInConnection(name []byte) bool {
	for _, c := range fc.lines[1:] {
		if !equalFold(c.name, "connection") {
			continue
		}
		for tok := range bytes.SplitSeq(c.value, []byte(",")) {
			if asciiEqualFold(trimOWS(tok), name) {
				return true
			}
		}
	}
	return false
}

// cutRespLine cuts a line ending in LF or CRLF, as net/http's reader
// does; the last line may lack its end.
func cutRespLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

// statusLine parses a status line as http.ReadResponse does: a protocol
// HTTP/D.D, spaces, a three-digit code, then anything. It refuses codes
// below 100.
func statusLine(line []byte) (major, minor, code int, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0, 0, 0, false
	}
	proto, status := line[:sp], bytes.TrimLeft(line[sp+1:], " ")
	if len(proto) != 8 || string(proto[:5]) != "HTTP/" || proto[6] != '.' || !isDigit(proto[5]) || !isDigit(proto[7]) {
		return 0, 0, 0, false
	}
	if len(status) < 3 || len(status) > 3 && status[3] != ' ' ||
		!isDigit(status[0]) || !isDigit(status[1]) || !isDigit(status[2]) || status[0] == '0' {
		return 0, 0, 0, false
	}
	code = int(status[0]-'0')*100 + int(status[1]-'0')*10 + int(status[2]-'0')
	return int(proto[5] - '0'), int(proto[7] - '0'), code, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// headerField splits a header line as net/http's reader does: a token,
// a colon, a value of visible characters, spaces, tabs and obs-text,
// trimmed. It refuses bare CR, LF, NUL and other controls anywhere.
func headerField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !validName(line[:colon]) {
		return nil, nil, false
	}
	value = line[colon+1:]
	for _, c := range value {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return line[:colon], trimOWS(value), true
}

// parseResponseLength parses a Content-Length as net/http does: decimal
// digits, below 2^63.
func parseResponseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	for len(v) > 1 && v[0] == '0' {
		v = v[1:]
	}
	if len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// validTrailerNames refuses a Trailer field announcing Transfer-Encoding,
// Trailer or Content-Length, as net/http does.
func validTrailerNames(v []byte) bool {
	for k := range bytes.SplitSeq(v, []byte(",")) {
		k = trimOWS(k)
		if equalFold(k, "transfer-encoding") || equalFold(k, "trailer") || equalFold(k, "content-length") {
			return false
		}
	}
	return true
}

// asciiEqualFold compares two byte strings ignoring ASCII case only.
func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// writeHead writes the parsed response head to the client as HTTP/1.1,
// with the status text net/http's server writes.
func (fc *fastConn) writeHead(r respInfo, closeClient bool) {
	w := fc.bw
	w.WriteString("HTTP/1.1 ")
	code := func() { // byte by byte: a slice of a local array would escape
		w.WriteByte(byte('0' + r.code/100))
		w.WriteByte(byte('0' + r.code/10%10))
		w.WriteByte(byte('0' + r.code%10))
	}
	code()
	w.WriteByte(' ')
	if text := http.StatusText(r.code); text != "" {
		w.WriteString(text)
	} else {
		w.WriteString("status code ")
		code()
	}
	w.WriteString("\r\n")
	for _, l := range fc.lines[1:] {
		if !l.drop {
			w.Write(l.line)
			w.WriteString("\r\n")
		}
	}
	if r.cacheControl {
		w.WriteString("Cache-Control: no-cache\r\n")
	}
	if closeClient {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
}

// copyN copies n bytes of body, or up to EOF when n < 0, flushing the
// client's writer whenever the backend has nothing more yet: a streamed
// response reaches the client as it comes.
func copyN(w *bufio.Writer, r *bufio.Reader, n int64) error {
	for n != 0 {
		if r.Buffered() == 0 {
			if w.Buffered() > 0 {
				if err := w.Flush(); err != nil {
					return err
				}
			}
			if _, err := r.Peek(1); err != nil {
				if n < 0 && err == io.EOF {
					return nil
				}
				return err
			}
		}
		k := r.Buffered()
		if n > 0 && int64(k) > n {
			k = int(n)
		}
		p, _ := r.Peek(k)
		if _, err := w.Write(p); err != nil {
			return err
		}
		r.Discard(k)
		if n > 0 {
			n -= int64(k)
		}
	}
	return nil
}

// copyChunked copies a chunked body, checked as net/http's chunked reader
// checks it: chunk-size lines end in CRLF with no other CR, each chunk in
// CRLF; trailer fields are checked as header fields and written with
// CRLF.
func copyChunked(w *bufio.Writer, r *bufio.Reader) error {
	for {
		line, err := readLine(w, r)
		if err != nil {
			return err
		}
		size, ok := chunkSize(line)
		if !ok {
			return errBadResponse
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if size == 0 {
			return copyTrailers(w, r)
		}
		if err := copyN(w, r, size); err != nil {
			return err
		}
		line, err = readLine(w, r)
		if err != nil {
			return err
		}
		if len(line) != 2 || line[0] != '\r' {
			return errBadResponse
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
}

// copyTrailers copies the trailer fields and the blank line that ends a
// chunked body.
func copyTrailers(w *bufio.Writer, r *bufio.Reader) error {
	total := 0
	for {
		line, err := readLine(w, r)
		if err != nil {
			return err
		}
		if total += len(line); total > maxTrailerBytes {
			return errBadResponse
		}
		line, _ = cutRespLine(line)
		if len(line) == 0 {
			_, err := w.WriteString("\r\n")
			return err
		}
		if _, _, ok := headerField(line); !ok {
			return errBadResponse
		}
		w.Write(line)
		if _, err := w.WriteString("\r\n"); err != nil {
			return err
		}
	}
}

// readLine reads one line, flushing w first when it would wait.
func readLine(w *bufio.Writer, r *bufio.Reader) ([]byte, error) {
	if r.Buffered() == 0 && w.Buffered() > 0 {
		if err := w.Flush(); err != nil {
			return nil, err
		}
	}
	line, err := r.ReadSlice('\n')
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return line, err
}

// chunkSize parses a chunk-size line as net/http does: hex digits (at
// most 16, and below 2^63 here), white space, an extension, CRLF.
func chunkSize(line []byte) (int64, bool) {
	if cr := bytes.IndexByte(line, '\r'); cr < 0 || cr != len(line)-2 {
		return 0, false
	}
	line = bytes.TrimRight(line, " \t\r\n")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}
