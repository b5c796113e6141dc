package router

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/ring"
)

// Config configures a Router. Its zero value routes by session token on
// the default ring.
type Config struct {
	// Ring chooses the hashing algorithm, its points and seed. The
	// nodes that mint tokens (sessionkit node --members) must use the
	// same. Default: ring.Config's defaults.
	Ring ring.Config

	// Keys lists where the routing key comes from, in order of
	// precedence; the first present wins:
	//
	//	token          the session token (cookie or header), hashed with SHA-256
	//	ip             the client address (X-Forwarded-For only from TrustedProxies)
	//	header:NAME    a request header, such as a user ID
	//	cookie:NAME    a cookie of the backend's own
	//	query:NAME     a query parameter
	//
	// A request with none of them goes to the least-loaded healthy
	// backend. Default ["token"].
	Keys []string

	// TokenCookie is the session cookie's name without its prefix; the
	// router reads it with the __Host-, __Secure- or no prefix.
	// Default "session".
	TokenCookie string
	// TokenHeader is the header API clients send their token in.
	// Default "X-Session-Token".
	TokenHeader string

	// TrustedProxies lists the proxies in front of the router whose
	// X-Forwarded-For and Forwarded headers it believes. Default none.
	TrustedProxies []netip.Prefix

	// BoundedLoad, when above 1, caps a backend's load at that many
	// times the mean for keys that are not session tokens. It cannot
	// apply to tokens: its choice depends on this router's view of load,
	// and a token must reach the node holding its session. Default 0,
	// off.
	BoundedLoad float64

	// MaxBodyBytes caps a request body: a larger one gets 413. Default
	// 10 MiB.
	MaxBodyBytes int64

	// RequestBodyTimeout bounds reading a request body, from the end of
	// its head: a body not whole by then ends the request with 408
	// Request Timeout and closes the client connection. (The head is
	// bounded by Server.HTTP's ReadHeaderTimeout.) Default 60 s.
	RequestBodyTimeout time.Duration
	// MinBodyRate is the slowest a request body may arrive, in bytes a
	// second, once BodyRateGrace has passed: a body that has fallen
	// behind ends the request with 408 and closes the client
	// connection. Default 240 (ASP.NET Core Kestrel's).
	MinBodyRate int64
	// BodyRateGrace is how long a body may take before MinBodyRate
	// applies. Default 5 s.
	BodyRateGrace time.Duration

	// ResponseHeaderTimeout bounds the wait for a backend's response
	// head once the request was sent; past it the client gets 504
	// Gateway Timeout. It applies to the default Transport and to
	// Server's fast path. Default 60 s.
	ResponseHeaderTimeout time.Duration

	// Health configures the active health checks.
	Health HealthConfig

	// BackendTLS configures TLS to https:// backends: the CAs that sign
	// their certificates (RootCAs) and a client certificate, when they
	// ask for one. It applies to the default Transport, whose pooled TLS
	// connections Server's fast path shares (see Transport's
	// TLSClientConfig). Default nil: the system's roots, no client
	// certificate.
	BackendTLS *tls.Config

	// Transport forwards requests to backends. Default: a Transport
	// (see NewTransport), whose keep-alive connections Server's fast
	// path shares; the fast path forwards only when Transport is left
	// nil. A Transport given here is used as given.
	Transport http.RoundTripper

	// Trace, when set, traces each request through the router and
	// passes the trace context on to the backend (see Tracer). Traced
	// requests take the net/http path: Server's fast path, which
	// allocates nothing per request, runs only without it. Default nil.
	Trace Tracer

	// Logger receives the router's log lines. Default slog.Default().
	Logger *slog.Logger
	// AccessLog, when set, receives one line per request (tokens are
	// never logged), on the request's goroutine: a handler that writes
	// each line to a file or stderr makes a system call per request,
	// one that appends to a buffer written out by another goroutine (as
	// sessionkit router's is) does not. Default nil, off.
	AccessLog *slog.Logger
	// Registry registers the router's Prometheus metrics. Default: a
	// new registry, with the Go runtime's and the process's collectors,
	// which Registry returns.
	Registry *prometheus.Registry

	tokenTransports  []sessionkit.Transport
	defaultTransport bool // Transport was nil: Server may forward by itself
}

// HealthConfig configures active health checks: a GET of Path on every
// backend each Interval.
type HealthConfig struct {
	// Path is requested on each backend. Default "/healthz".
	Path string
	// Interval between checks. Default 1 s.
	Interval time.Duration
	// Timeout of one check. Default 500 ms.
	Timeout time.Duration
	// Rise is how many passing checks mark a backend healthy. Default 2.
	Rise int
	// Fall is how many failing checks mark a backend unhealthy. A
	// connection refused on a forwarded request marks it at once.
	// Default 2.
	Fall int
}

// bodyDeadline returns the time by which a body that began at start
// and of which read bytes arrived must have sent its next byte; for the
// fast path, which reads a whole small body at once, read is its length.
func (c *Config) bodyDeadline(start time.Time, read int64) time.Time {
	d := c.BodyRateGrace + time.Duration(float64(read)/float64(c.MinBodyRate)*float64(time.Second))
	return start.Add(min(d, c.RequestBodyTimeout))
}

func (c *Config) setDefaults() error {
	if len(c.Keys) == 0 {
		c.Keys = []string{"token"}
	}
	c.TokenCookie = cmp.Or(c.TokenCookie, "session")
	c.TokenHeader = cmp.Or(c.TokenHeader, "X-Session-Token")
	positive(&c.MaxBodyBytes, 10<<20)
	positive(&c.RequestBodyTimeout, 60*time.Second)
	positive(&c.MinBodyRate, 240)
	positive(&c.BodyRateGrace, 5*time.Second)
	positive(&c.ResponseHeaderTimeout, 60*time.Second)
	h := &c.Health
	h.Path = cmp.Or(h.Path, "/healthz")
	positive(&h.Interval, time.Second)
	positive(&h.Timeout, 500*time.Millisecond)
	positive(&h.Rise, 2)
	positive(&h.Fall, 2)
	if c.Transport == nil {
		t := NewTransport()
		t.ResponseHeaderTimeout = c.ResponseHeaderTimeout
		t.TLSClientConfig = c.BackendTLS
		c.Transport = t
		c.defaultTransport = true
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
		c.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if c.BackendTLS != nil && !c.defaultTransport {
		return fmt.Errorf("router: BackendTLS applies to the default Transport: configure the given Transport's TLS instead")
	}
	if c.BoundedLoad != 0 && c.BoundedLoad <= 1 {
		return fmt.Errorf("router: BoundedLoad %v must be above 1", c.BoundedLoad)
	}
	c.tokenTransports = []sessionkit.Transport{
		&sessionkit.CookieTransport{Name: c.TokenCookie},
		&sessionkit.CookieTransport{Name: c.TokenCookie, Domain: "x"}, // the __Secure- name
		&sessionkit.CookieTransport{Name: c.TokenCookie, Insecure: true},
		&sessionkit.HeaderTransport{Name: c.TokenHeader},
	}
	return nil
}

// positive sets *v to def unless *v is above zero.
func positive[T ~int | ~int64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

type keyKind uint8

const (
	keyNone keyKind = iota
	keyToken
	keyIP
	keyHeader
	keyCookie
	keyQuery
)

func (k keyKind) String() string {
	return [...]string{"none", "token", "ip", "header", "cookie", "query"}[k]
}

type keySource struct {
	kind  keyKind
	name  string
	lower string // a header's name in lower case, for the fast path
}

func parseKeys(specs []string) ([]keySource, error) {
	var keys []keySource
	for _, s := range specs {
		kind, name, _ := strings.Cut(s, ":")
		var k keySource
		switch kind {
		case "token":
			k.kind = keyToken
		case "ip":
			k.kind = keyIP
		case "header":
			k.kind = keyHeader
		case "cookie":
			k.kind = keyCookie
		case "query":
			k.kind = keyQuery
		default:
			return nil, fmt.Errorf("router: unknown key %q (want token, ip, header:NAME, cookie:NAME or query:NAME)", s)
		}
		switch named := k.kind != keyToken && k.kind != keyIP; {
		case named && name == "":
			return nil, fmt.Errorf("router: key %q: %s needs a name, as %s:NAME", s, kind, kind)
		case !named && name != "":
			return nil, fmt.Errorf("router: key %q: %s takes no name", s, kind)
		}
		k.name = name
		if k.kind == keyHeader {
			k.name = http.CanonicalHeaderKey(name)
			k.lower = strings.ToLower(k.name)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
