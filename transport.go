package sessionkit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/routing"
	"golang.org/x/net/publicsuffix"
)

// Transport carries the token between client and server. Its methods may be
// called concurrently.
type Transport interface {
	// Token returns the token the request carries, or "" if none.
	Token(r *http.Request) string
	// SetToken makes the response carry token t. An empty t tells the
	// client to forget its token. A zero expires means the token lives
	// as long as the client's browsing session (a session cookie);
	// otherwise it is kept until expires.
	SetToken(w http.ResponseWriter, r *http.Request, t string, expires time.Time)
}

// varyHeader returns the request header that carries the token of t, which
// the Manager names in Vary: "Cookie" for a CookieTransport, the header's
// name for a HeaderTransport, and "" for a transport it does not know (which
// sets its own cache headers).
func varyHeader(t Transport) string {
	switch t := t.(type) {
	case *CookieTransport:
		return "Cookie"
	case *HeaderTransport:
		return http.CanonicalHeaderKey(t.name())
	}
	return ""
}

// CookieTransport carries the token in a cookie. Its zero value is the
// production default: a cookie named "__Host-session", HttpOnly, Secure,
// SameSite=Lax, Path=/, with no Domain.
//
// Name prefixes: without a Domain, a Secure cookie is named with the
// "__Host-" prefix, which browsers accept only from HTTPS, without a Domain
// and with Path=/: no sibling subdomain can set or shadow it. With a Domain
// (sessions shared across subdomains) it takes the "__Secure-" prefix
// instead, and every subdomain of Domain can set a cookie of that name
// ("cookie tossing"): a compromised or hostile sibling subdomain can plant a
// session token of its choosing in a user's browser. Share a parent domain
// only among hosts you trust, and renew the session at login (SetPrincipal
// does) so a planted token never becomes an authenticated one.
type CookieTransport struct {
	// Name is the cookie's name before its prefix. Default "session".
	Name string
	// Domain, when set, shares the cookie with every subdomain of it
	// (for example "mall.test" for shop.mall.test and pay.mall.test).
	// New refuses a public suffix such as "com" or "github.io".
	// Default: none, the cookie belongs to its host only.
	Domain string
	// Path is the cookie's path. Default "/".
	Path string
	// SameSite defaults to http.SameSiteLaxMode.
	SameSite http.SameSite
	// Insecure drops the Secure attribute and the name prefix, so that
	// browsers keep the cookie over plain HTTP. Only for development on
	// loopback: the Manager says so in a log line at start.
	// Default false.
	Insecure bool
	// ChunkSize is the largest cookie, name, value and attributes
	// together; a longer token is split over several cookies (NAME,
	// NAME.1, NAME.2, ...) and joined back. Default 4096, the size every
	// browser accepts.
	ChunkSize int
	// MaxChunks caps the number of cookies one token may take, at most
	// 16. Default 2: with the default ChunkSize, the whole Cookie header then
	// stays under nginx's default 8 KB header buffer.
	MaxChunks int
}

// CookieName returns the name the cookie is sent under, prefix included.
func (c *CookieTransport) CookieName() string {
	prefix, name := c.nameParts()
	return prefix + name
}

func (c *CookieTransport) nameParts() (prefix, name string) {
	name = c.Name
	if name == "" {
		name = "session"
	}
	switch {
	case c.Insecure:
		return "", name
	case c.Domain != "":
		return routing.SecurePrefix, name
	default:
		return routing.HostPrefix, name
	}
}

// check validates the configuration.
func (c *CookieTransport) check() error {
	if c.Domain == "" {
		return nil
	}
	d := strings.TrimPrefix(strings.ToLower(c.Domain), ".")
	if _, err := netip.ParseAddr(d); err == nil || strings.ContainsAny(d, ":/ ") {
		return fmt.Errorf("sessionkit: cookie Domain %q must be a domain name", c.Domain)
	}
	if ps, _ := publicsuffix.PublicSuffix(d); ps == d {
		return fmt.Errorf("sessionkit: cookie Domain %q is a public suffix, which browsers refuse", c.Domain)
	}
	return nil
}

func (c *CookieTransport) chunkLimits() (size, chunks int) {
	size, chunks = c.ChunkSize, c.MaxChunks
	if size <= 0 {
		size = 4096
	}
	if chunks <= 0 {
		chunks = routing.DefaultChunks
	}
	return size, min(chunks, maxChunks)
}

// MaxTokenLen returns the longest token the transport can carry.
func (c *CookieTransport) MaxTokenLen() int {
	size, chunks := c.chunkLimits()
	per := size - c.overhead(c.CookieName()+".9")
	if per < 0 {
		return 0
	}
	return per * chunks
}

// overhead is the length of a cookie's name and attributes as SetToken
// writes them, with a long Expires and a Max-Age of ten digits (over 300
// years).
func (c *CookieTransport) overhead(name string) int {
	ck := c.cookie(name, "", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	ck.MaxAge = 9_999_999_999
	return len(ck.String())
}

// maxOverhead bounds overhead without writing a cookie: the attributes'
// names and separators, the longest SameSite, Expires and Max-Age values,
// and the name, path and domain.
func (c *CookieTransport) maxOverhead(name string) int {
	const attrs = len("=; Path=; Domain=; Expires=Mon, 02 Jan 2006 15:04:05 GMT; Max-Age=9999999999; HttpOnly; Secure; SameSite=None; Partitioned")
	return attrs + len(name) + len(c.Path) + len(c.Domain) + 1 // Path "/" when empty
}

func (c *CookieTransport) cookie(name, value string, expires time.Time) *http.Cookie {
	path := c.Path
	if path == "" || (!c.Insecure && c.Domain == "") {
		path = "/" // __Host- requires Path=/
	}
	ss := c.SameSite
	if ss == 0 {
		ss = http.SameSiteLaxMode
	}
	ck := &http.Cookie{
		Name: name, Value: value, Path: path, Domain: c.Domain,
		HttpOnly: true, Secure: !c.Insecure, SameSite: ss,
	}
	if !expires.IsZero() {
		// Both, as scs sends them: Max-Age wins in every current browser
		// and does not depend on the client's clock; Expires serves the
		// clients that know no Max-Age.
		ck.Expires = expires.UTC()
		ck.MaxAge = max(1, int(time.Until(expires)/time.Second))
	}
	return ck
}

// expire makes ck a cookie that deletes the client's copy: Max-Age=0, and
// an Expires in the past for the clients that know no Max-Age.
func expire(ck *http.Cookie) *http.Cookie {
	ck.MaxAge = -1
	ck.Expires = time.Unix(1, 0).UTC()
	return ck
}

// Token implements Transport. A token split over several cookies is joined
// back; a missing chunk yields a token that fails to open.
func (c *CookieTransport) Token(r *http.Request) string {
	prefix, name := c.nameParts()
	_, chunks := c.chunkLimits()
	var parts [maxChunks]string
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.HasPrefix(k, prefix) || !strings.HasPrefix(k[len(prefix):], name) {
				continue
			}
			i := routing.ChunkIndex(k[len(prefix)+len(name):])
			if i >= 0 && i < chunks && parts[i] == "" {
				parts[i] = strings.Trim(v, `"`)
			}
		}
	}
	if parts[0] == "" || parts[1] == "" {
		return parts[0]
	}
	n := 0
	for n < chunks && parts[n] != "" {
		n++
	}
	return strings.Join(parts[:n], "")
}

// serverTokenLen is the length of a server-side store's token.
const serverTokenLen = 43

// maxChunks bounds MaxChunks.
const maxChunks = 16

// cookieValue returns the first cookie of that name.
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// SetToken implements Transport. It writes one cookie per chunk and expires
// the request's chunks that the new token no longer uses.
func (c *CookieTransport) SetToken(w http.ResponseWriter, r *http.Request, t string, expires time.Time) {
	name := c.CookieName()
	size, chunks := c.chunkLimits()
	per := size - c.maxOverhead(routing.ChunkName(name, chunks-1))
	if len(t) > per {
		// Near the limit: the exact overhead decides the split.
		per = size - c.overhead(routing.ChunkName(name, chunks-1))
	}
	all := len(t) > 2*serverTokenLen || t == ""
	n := 0
	for len(t) > 0 && n < chunks {
		part := t
		if len(part) > per && n < chunks-1 {
			part = part[:per]
		}
		t = t[len(part):]
		http.SetCookie(w, c.cookie(routing.ChunkName(name, n), part, expires))
		n++
	}
	// Expire the chunks beyond those just written. A sealed session (any
	// token longer than a server token) or a logout expires them all,
	// whether or not this request carried them: a concurrent response may
	// have set them, and a stale chunk joined to fresh ones makes a token
	// that never opens. A server token expires only what the client sent.
	for i := n; i < chunks; i++ {
		cn := routing.ChunkName(name, i)
		if all || cookieValue(r, cn) != "" {
			http.SetCookie(w, expire(c.cookie(cn, "", time.Time{})))
		}
	}
}

// HeaderTransport carries the token in a request header and sends it back in
// the same response header, for API clients that do not keep cookies.
type HeaderTransport struct {
	// Name is the header's name. Default "X-Session-Token".
	Name string
}

func (h *HeaderTransport) name() string {
	if h.Name == "" {
		return "X-Session-Token"
	}
	return h.Name
}

// Token implements Transport.
func (h *HeaderTransport) Token(r *http.Request) string { return r.Header.Get(h.name()) }

// SetToken implements Transport. An empty token is sent as an empty header:
// the client must drop its token.
func (h *HeaderTransport) SetToken(w http.ResponseWriter, _ *http.Request, t string, _ time.Time) {
	w.Header().Set(h.name(), t)
}
