package router

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"unsafe"
)

// keyScratch is the room the fast path finds a routing key in: it lives
// as long as the connection, so that a key costs no allocation.
type keyScratch struct {
	token [sha256.Size]byte
	chunk []byte // a token's chunks, joined
	buf   []byte // an address's text, an unescaped query value
}

// maxCookies is net/http's bound on the cookies of a request (its
// httpcookiemaxnum default): past it, r.Cookie finds none.
const maxCookies = 3000

// headKey returns the routing key of the request in h, from a client at
// peer, as Router.key returns it for the same request read by net/http:
// the key sources in order, the first present wins. The key points into
// h's buffer or ks; it allocates nothing.
func (rt *Router) headKey(h *head, peer netip.Addr, ks *keyScratch) ([]byte, keyKind) {
	for _, src := range rt.keys {
		switch src.kind {
		case keyToken:
			key, found, chunk := tokenKey(h, rt.cfg.TokenCookie, rt.tokenHeader, ks.chunk)
			ks.chunk = chunk
			if found {
				ks.token = key
				return ks.token[:], keyToken
			}
		case keyIP:
			if ip := rt.headIP(h, peer); ip.IsValid() {
				ks.buf = ip.AppendTo(ks.buf[:0])
				return ks.buf, keyIP
			}
		case keyHeader:
			if v := h.header(src.lower); len(v) > 0 {
				return v, keyHeader
			}
		case keyCookie:
			if v := h.cookie(src.name); len(v) > 0 {
				return v, keyCookie
			}
		case keyQuery:
			var v []byte
			if v, ks.buf = h.query(src.name, ks.buf[:0]); len(v) > 0 {
				return v, keyQuery
			}
		}
	}
	return nil, keyNone
}

// headIP returns the client address as clientip.Resolver.IP finds it:
// the peer, or, while the hop is a trusted proxy, one hop left through
// Forwarded (if present) or else X-Forwarded-For.
func (rt *Router) headIP(h *head, peer netip.Addr) netip.Addr {
	w := rt.resolver.Walk(peer)
	if !w.More() {
		return w.Client()
	}
	name, forwarded := "x-forwarded-for", false
	if h.has("forwarded") {
		name, forwarded = "forwarded", true
	}
	// The hops right to left: the fields last to first, each value's
	// comma-separated elements last to first.
	for i := len(h.fields) - 1; i >= 0 && w.More(); i-- {
		f := &h.fields[i]
		if !equalFold(f.name, name) {
			continue
		}
		for v, more := f.value, true; more && w.More(); {
			var elem []byte
			if j := bytes.LastIndexByte(v, ','); j >= 0 {
				elem, v = v[j+1:], v[:j]
			} else {
				elem, more = v, false
			}
			var hop []byte
			if forwarded {
				hop = forwardedFor(elem)
			} else {
				hop = trimOWS(elem)
			}
			w.Hop(unsafeString(hop))
		}
	}
	return w.Client()
}

// forwardedFor returns the last for= of one element of a Forwarded
// value, its quotes trimmed, or nothing.
func forwardedFor(elem []byte) []byte {
	var hop []byte
	for more := true; more; {
		var pair []byte
		if j := bytes.IndexByte(elem, ';'); j >= 0 {
			pair, elem = elem[:j], elem[j+1:]
		} else {
			pair, more = elem, false
		}
		k, v, _ := bytes.Cut(trimOWS(pair), []byte("="))
		if equalFold(k, "for") {
			hop = bytes.Trim(v, `"`)
		}
	}
	return hop
}

// unsafeString views b as a string for a call that keeps no reference
// to it once it returns (Walk.Hop keeps none: ParseHop keeps it only in
// an error, which Hop drops): converting would allocate.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// has reports whether a field named name (lower case) is present.
func (h *head) has(name string) bool {
	for _, f := range h.fields {
		if equalFold(f.name, name) {
			return true
		}
	}
	return false
}

// header returns the first value of the field named name (lower case),
// as net/http's Request.Header.Get does: Host is not among them, and a
// Pragma: no-cache without Cache-Control reads as Cache-Control: no-cache.
func (h *head) header(name string) []byte {
	if name == "host" {
		return nil
	}
	for _, f := range h.fields {
		if equalFold(f.name, name) {
			return f.value
		}
	}
	if name == "cache-control" && h.pragmaNoCache {
		return []byte("no-cache")
	}
	return nil
}

// cookie returns the value of the first valid cookie named name, as
// net/http's Request.Cookie reads it.
func (h *head) cookie(name string) []byte {
	if name == "" {
		return nil
	}
	n := 0
	for _, f := range h.fields {
		if equalFold(f.name, "cookie") {
			n += bytes.Count(f.value, []byte(";")) + 1
		}
	}
	if n > maxCookies {
		return nil
	}
	for _, f := range h.fields {
		if !equalFold(f.name, "cookie") {
			continue
		}
		for line := f.value; len(line) > 0; {
			var part []byte
			part, line, _ = bytes.Cut(line, []byte(";"))
			part = trimOWS(part)
			if len(part) == 0 {
				continue
			}
			k, v, _ := bytes.Cut(part, []byte("="))
			k = trimOWS(k)
			if !validName(k) || string(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if !validCookieValue(v) {
				continue
			}
			return v
		}
	}
	return nil
}

// validCookieValue accepts what net/http's cookie parser does.
func validCookieValue(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// query returns the first value of the query parameter name, as
// net/http's URL.Query().Get does: pairs split on "&", those holding ";"
// skipped, keys and values unescaped. The value is unescaped into buf,
// which it returns for reuse.
func (h *head) query(name string, buf []byte) (value, _ []byte) {
	q := h.target
	if i := bytes.IndexByte(q, '?'); i >= 0 {
		q = q[i+1:]
	} else {
		return nil, buf
	}
	for len(q) > 0 {
		var pair []byte
		pair, q, _ = bytes.Cut(q, []byte("&"))
		if len(pair) == 0 || bytes.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := bytes.Cut(pair, []byte("="))
		buf = queryUnescape(buf[:0], k)
		if string(buf) != name {
			continue
		}
		buf = queryUnescape(buf[:0], v)
		return buf, buf
	}
	return nil, buf
}

// queryUnescape appends s unescaped as a query component: "+" is a
// space, "%XX" a byte. validTarget let only well-formed escapes through.
func queryUnescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(s):
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
