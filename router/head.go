package router

import (
	"bytes"
	"crypto/sha256"

	"github.com/sessionkit/sessionkit/internal/routing"
)

// head is a request head the fast path may forward. Its slices point into
// the buffer it was parsed from.
type head struct {
	method []byte
	target []byte // origin form: "/path?query"
	host   []byte
	fields []field // every header line in order, Host included

	contentLength int64
	close         bool // the client sent Connection: close
	pragmaNoCache bool // net/http adds Cache-Control: no-cache then
	cacheControl  bool
}

// field is one header line. drop marks the lines the router replaces or
// must not forward (Connection, Forwarded, X-Forwarded-*).
type field struct {
	name, value []byte
	line        []byte // the whole line, CRLF included
	drop        bool
}

// maxFields bounds the header lines of a fast-path request.
const maxFields = 100

// methods are the methods the fast path takes. CONNECT and TRACE, and any
// extension method, go to net/http.
var methods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}

// parseHead parses a request head: buf holds the request line, the
// header lines and the blank line that ends them, each ending in CRLF. It
// reports false for anything but the plain requests the fast path takes;
// for those, net/http's http.ReadRequest reads the same method, URI,
// protocol, Host, header fields, content length and Close (a fuzz test
// holds the two together). Everything it refuses goes to net/http:
// Transfer-Encoding, Expect, Upgrade and the other hop-by-hop fields, folded
// lines, repeated Content-Length or Host, HTTP/1.0, absolute URIs, bytes
// outside printable ASCII.
func parseHead(buf []byte, h *head) bool {
	*h = head{fields: h.fields[:0]}
	line, rest, ok := cutLine(buf)
	if !ok {
		return false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || !knownMethod(line[:sp]) {
		return false
	}
	h.method, line = line[:sp], line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp < 0 || !validTarget(line[:sp]) || string(line[sp+1:]) != "HTTP/1.1" {
		return false
	}
	h.target = line[:sp]
	hosts, lengths := 0, 0
	for {
		start := rest
		line, rest, ok = cutLine(rest)
		if !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		if len(h.fields) == maxFields {
			return false
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validName(line[:colon]) {
			return false // also a folded line, which starts with white space
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validValue(value) {
			return false
		}
		f := field{name: name, value: value, line: start[:len(line)+2]}
		switch {
		case equalFold(name, "host"):
			hosts++
			if !validHost(value) {
				return false
			}
			h.host = value
		case equalFold(name, "content-length"):
			lengths++
			n, ok := parseLength(value)
			if !ok {
				return false
			}
			h.contentLength = n
		case equalFold(name, "connection"):
			close, ok := connectionTokens(value)
			if !ok {
				return false
			}
			h.close = h.close || close
			f.drop = true
		case equalFold(name, "forwarded"), equalFold(name, "x-forwarded-for"),
			equalFold(name, "x-forwarded-host"), equalFold(name, "x-forwarded-proto"):
			f.drop = true // the router sets its own
		case equalFold(name, "pragma"):
			if !h.pragmaSeen() {
				h.pragmaNoCache = string(value) == "no-cache"
			}
		case equalFold(name, "cache-control"):
			h.cacheControl = true
		case hopByHop(name):
			return false
		}
		h.fields = append(h.fields, f)
	}
	if hosts != 1 || lengths > 1 || len(rest) != 0 {
		return false
	}
	return true
}

// pragmaSeen reports whether a Pragma field came before the one being
// parsed: net/http looks at the first only.
func (h *head) pragmaSeen() bool {
	for _, f := range h.fields {
		if equalFold(f.name, "pragma") {
			return true
		}
	}
	return false
}

// values returns the values of the fields named name (lower case), in
// order, appended to dst.
func (h *head) values(name string, dst [][]byte) [][]byte {
	for _, f := range h.fields {
		if equalFold(f.name, name) {
			dst = append(dst, f.value)
		}
	}
	return dst
}

// hopByHop reports the fields that make a request more than the fast
// path forwards: net/http handles them.
func hopByHop(name []byte) bool {
	for _, s := range [...]string{"transfer-encoding", "expect", "upgrade", "te", "trailer", "keep-alive",
		"proxy-connection", "proxy-authenticate", "proxy-authorization", "http2-settings", "close"} {
		if equalFold(name, s) {
			return true
		}
	}
	return false
}

// cutLine cuts a CRLF-terminated line; a bare CR or LF inside refuses.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, false
	}
	return line, b[i+1:], true
}

func knownMethod(m []byte) bool {
	for _, s := range methods {
		if string(m) == s {
			return true
		}
	}
	return false
}

// methodString returns m as one of the methods' strings, without
// allocating.
func methodString(m []byte) string {
	for _, s := range methods {
		if string(m) == s {
			return s
		}
	}
	return string(m)
}

// validTarget accepts an origin-form URI of unreserved characters,
// sub-delimiters, ":@/?" and well-formed percent escapes.
func validTarget(t []byte) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("-._~!$&'()*+,;=:@/?"), c) >= 0:
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validName accepts an RFC 9110 token.
func validName(n []byte) bool {
	for _, c := range n {
		if !isTchar(c) {
			return false
		}
	}
	return len(n) > 0
}

func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// validValue accepts printable ASCII, space and tab.
func validValue(v []byte) bool {
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c > 0x7e {
			return false
		}
	}
	return true
}

// validHost accepts a non-empty host[:port] of letters, digits and
// ".-_:[]".
func validHost(v []byte) bool {
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return len(v) > 0
}

// parseLength parses a Content-Length of at most 18 digits.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// connectionTokens accepts a Connection value listing only close and
// keep-alive, and reports whether close is among them.
func connectionTokens(v []byte) (close, ok bool) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		tok = trimOWS(tok)
		switch {
		case len(tok) == 0:
		case equalFold(tok, "close"):
			close = true
		case equalFold(tok, "keep-alive"):
		default:
			return false, false
		}
	}
	return close, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the lower-case ASCII s, ignoring
// case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// tokenKey returns the routing key of a session token the way Router.key
// finds it (sessionkit's CookieTransport.Token for the __Host-, __Secure-
// and unprefixed cookie, then the token header), as routing.Key. It
// appends the token's chunks to scratch and returns it for reuse.
func tokenKey(h *head, cookie, header string, scratch []byte) (key [sha256.Size]byte, found bool, _ []byte) {
	for _, prefix := range routing.Prefixes {
		var parts [routing.DefaultChunks][]byte
		for _, f := range h.fields {
			if !equalFold(f.name, "cookie") {
				continue
			}
			for line := f.value; len(line) > 0; {
				var part []byte
				if i := bytes.IndexByte(line, ';'); i >= 0 {
					part, line = line[:i], line[i+1:]
				} else {
					part, line = line, nil
				}
				part = trimOWS(part)
				eq := bytes.IndexByte(part, '=')
				if eq < 0 {
					continue
				}
				k, v := part[:eq], part[eq+1:]
				if !bytes.HasPrefix(k, []byte(prefix)) || !bytes.HasPrefix(k[len(prefix):], []byte(cookie)) {
					continue
				}
				i := routing.ChunkIndex(k[len(prefix)+len(cookie):])
				if i >= 0 && i < len(parts) && len(parts[i]) == 0 {
					parts[i] = bytes.Trim(v, `"`)
				}
			}
		}
		if len(parts[0]) == 0 {
			continue
		}
		scratch = scratch[:0]
		for _, p := range parts {
			if len(p) == 0 {
				break
			}
			scratch = append(scratch, p...)
		}
		return routing.Key(scratch), true, scratch
	}
	for _, f := range h.fields {
		if equalFold(f.name, header) {
			if len(f.value) == 0 {
				break
			}
			return routing.Key(f.value), true, scratch
		}
	}
	return key, false, scratch
}
