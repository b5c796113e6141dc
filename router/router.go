package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/internal/clientip"
	"github.com/sessionkit/sessionkit/internal/routing"
	"github.com/sessionkit/sessionkit/ring"
)

// Router is a reverse proxy that sends every request of a session to the
// same backend. It is an http.Handler; Close stops its health checks.
type Router struct {
	cfg      Config
	keys     []keySource
	resolver clientip.Resolver
	proxy    *httputil.ReverseProxy
	metrics  *metrics
	// transport is the default Transport, nil when Config.Transport was
	// given: backends take their connections from its pools.
	transport *Transport

	// fast reports whether Server may forward by itself: over the
	// default transport, untraced.
	fast        bool
	tokenHeader string // lower case

	mu   sync.Mutex // serializes member changes
	view atomic.Pointer[view]
	turn atomic.Uint32 // where the search for the least-loaded backend starts

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// view is one immutable set of members and their ring.
type view struct {
	ring     *ring.Ring
	backends map[string]*backend
	list     []*backend // sorted by name
	fast     bool       // every backend takes the fast path
}

// New returns a Router over the members, its health checks running.
func New(cfg Config, members []Member) (*Router, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	keys, err := parseKeys(cfg.Keys)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.kind == keyToken && cfg.BoundedLoad > 0 && len(keys) == 1 {
			return nil, errors.New("router: bounded loads cannot apply to session tokens: a token must reach the node that holds its session")
		}
	}
	rt := &Router{
		cfg: cfg, keys: keys,
		resolver: clientip.Resolver{Trusted: cfg.TrustedProxies},
		metrics:  newMetrics(cfg.Registry),
		stop:     make(chan struct{}), done: make(chan struct{}),
	}
	rt.fast = cfg.defaultTransport
	if cfg.defaultTransport {
		rt.transport = cfg.Transport.(*Transport)
	}
	// The fast path writes the request head as it came: no span, no
	// header to inject.
	rt.fast = rt.fast && cfg.Trace == nil
	rt.tokenHeader = strings.ToLower(cfg.TokenHeader)
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:      rt.rewrite,
		Transport:    &retryTransport{rt: rt, base: cfg.Transport},
		ErrorHandler: rt.proxyError,
		// net/http's server cannot write a status below 100 (it panics):
		// 502, as on the fast path.
		ModifyResponse: func(res *http.Response) error {
			if res.StatusCode < 100 {
				return errBadResponse
			}
			return nil
		},
		ErrorLog:   slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		BufferPool: bufferPool{},
	}
	if err := rt.SetMembers(members); err != nil {
		return nil, err
	}
	go rt.checkHealth()
	return rt, nil
}

// Close stops the health checks and waits for them. It may be called more
// than once.
func (rt *Router) Close() error {
	rt.once.Do(func() { close(rt.stop) })
	<-rt.done
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, b := range rt.view.Load().list {
		rt.release(b.pool)
	}
	if rt.transport != nil {
		rt.transport.CloseIdleConnections() // the https:// backends' too
	}
	return nil
}

// Members returns the current members.
func (rt *Router) Members() []Member {
	v := rt.view.Load()
	members := make([]Member, len(v.list))
	for i, b := range v.list {
		members[i] = b.Member
	}
	return members
}

// SetMembers replaces the member list. Members that stay keep their health
// state; the ring is rebuilt and swapped atomically.
func (rt *Router) SetMembers(members []Member) error {
	members = slices.Clone(members)
	if err := checkMembers(members); err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	old := rt.view.Load()
	v := &view{backends: make(map[string]*backend, len(members)), fast: true}
	rm := make([]ring.Member, len(members))
	for i, m := range members {
		b := (*backend)(nil)
		if old != nil {
			if ob := old.backends[m.Name]; ob != nil && ob.URL == m.URL && ob.Weight == m.Weight {
				b = ob
			}
		}
		if b == nil {
			var err error
			if b, err = newBackend(m, rt.transport); err != nil {
				return err
			}
		}
		v.backends[m.Name] = b
		v.list = append(v.list, b)
		v.fast = v.fast && b.fast
		rm[i] = ring.Member{Name: m.Name, Weight: m.Weight}
	}
	slices.SortFunc(v.list, func(a, b *backend) int { return strings.Compare(a.Name, b.Name) })
	if len(members) > 0 {
		r, err := ring.New(rt.cfg.Ring, rm)
		if err != nil {
			return fmt.Errorf("router: %w", err)
		}
		v.ring = r
	}
	rt.view.Store(v)
	rt.metrics.members(v.list)
	if old != nil {
		for name, b := range old.backends {
			if v.backends[name] != b && !v.uses(b.pool) {
				rt.release(b.pool)
			}
		}
	}
	return nil
}

// uses reports whether a backend of the view takes connections from p:
// members at one address share the Transport's pool.
func (v *view) uses(p *connPool) bool {
	for _, b := range v.list {
		if b.pool == p {
			return true
		}
	}
	return false
}

// release closes a pool no backend uses any more.
func (rt *Router) release(p *connPool) {
	if rt.transport != nil {
		rt.transport.release(p)
	} else {
		p.close()
	}
}

// AddMember adds or replaces one member.
func (rt *Router) AddMember(m Member) error {
	members := rt.Members()
	members = slices.DeleteFunc(members, func(x Member) bool { return x.Name == m.Name })
	return rt.SetMembers(append(members, m))
}

// RemoveMember removes one member; its keys move to their next preference.
func (rt *Router) RemoveMember(name string) error {
	members := rt.Members()
	n := len(members)
	members = slices.DeleteFunc(members, func(x Member) bool { return x.Name == name })
	if len(members) == n {
		return fmt.Errorf("router: no member %q", name)
	}
	return rt.SetMembers(members)
}

// Drain stops sending new sessions to a member while its existing
// sessions keep reaching it; remove it once they have moved or ended.
func (rt *Router) Drain(name string, on bool) error {
	b := rt.view.Load().backends[name]
	if b == nil {
		return fmt.Errorf("router: no member %q", name)
	}
	b.draining.Store(on)
	return nil
}

// route is the decision for one request: the backends in order of
// preference, and which of them is being tried.
type route struct {
	prefs []*backend
	i     int
	key   keyKind

	bodyTimedOut  atomic.Bool             // the request body came too slowly
	cancel        context.CancelCauseFunc // ends the request toward the backend
	informational int                     // 1xx responses passed on
	tooMany       atomic.Bool             // more than maxInformational came
}

type routeKey struct{}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				rt.recovered(p, debug.Stack())
			}
			panic(http.ErrAbortHandler) // the server closes this connection only, and says no more
		}
	}()
	start := time.Now()
	code := 0 // the response's status, for the span
	if rt.cfg.Trace != nil {
		ctx, end := rt.traceIn(r)
		r = r.WithContext(ctx)
		defer func() { end(statusErr(code)) }()
	}
	if r.ContentLength > rt.cfg.MaxBodyBytes {
		code = http.StatusRequestEntityTooLarge
		http.Error(w, "request body too large", code)
		return
	}
	rr := rt.decide(r)
	if r.Body != nil && r.Body != http.NoBody {
		tb := &timedBody{ReadCloser: r.Body, cfg: &rt.cfg, rc: http.NewResponseController(w), start: time.Now(), rr: rr}
		defer tb.stop()
		r.Body = http.MaxBytesReader(w, tb, rt.cfg.MaxBodyBytes)
	}
	if len(rr.prefs) == 0 {
		code = http.StatusServiceUnavailable
		http.Error(w, "no healthy backend", code)
		rt.served(r, code, "", rr.key, start)
		return
	}
	b := rr.prefs[0]
	b.inflight.Add(1)
	ctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), routeKey{}, rr))
	defer cancel(nil)
	rr.cancel = cancel
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK, rr: rr}
	rt.proxy.ServeHTTP(sw, r.WithContext(ctx))
	b.inflight.Add(-1)
	code = sw.code
	rt.served(r, code, rr.prefs[rr.i].Name, rr.key, start)
}

// served counts a request and writes its access log line.
func (rt *Router) served(r *http.Request, code int, backend string, kind keyKind, start time.Time) {
	rt.metrics.request(backend, code, start)
	if rt.cfg.AccessLog != nil {
		rt.cfg.AccessLog.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", code), slog.String("backend", backend),
			slog.String("key", kind.String()), slog.Duration("duration", time.Since(start)),
			slog.String("client", rt.resolver.IP(r).String()))
	}
}

// recovered logs and counts a panic recovered while serving a client
// connection, which is then closed.
func (rt *Router) recovered(p any, stack []byte) {
	rt.metrics.panics.Inc()
	rt.cfg.Logger.Error("router: panic serving a connection; closing it", slog.Any("panic", p), slog.String("stack", string(stack)))
}

// decide picks the backends for r, in order of preference.
func (rt *Router) decide(r *http.Request) *route {
	key, kind := rt.key(r)
	rr := &route{key: kind}
	rr.prefs, _ = rt.prefer(rt.view.Load(), key, kind, nil, nil, 0)
	return rr
}

// prefer appends to prefs the usable backends for key in order of
// preference, the first want of them when want is above zero (a request
// is tried on two at most); names is scratch space for the ring's answer.
// With room in both, it allocates nothing.
func (rt *Router) prefer(v *view, key []byte, kind keyKind, prefs []*backend, names []string, want int) ([]*backend, []string) {
	if v.ring == nil {
		return prefs, names
	}
	if kind == keyNone {
		// No affinity to keep: the least-loaded usable backend, whose
		// minted token then keeps the client there; among equally loaded
		// ones (an idle cluster), each in turn.
		var best *backend
		start := int(rt.turn.Add(1))
		for i := range v.list {
			b := v.list[(start+i)%len(v.list)]
			if b.usable(true) && (best == nil || b.inflight.Load() < best.inflight.Load()) {
				best = b
			}
		}
		if best != nil {
			prefs = append(prefs, best)
			for _, b := range v.list {
				if b != best && b.usable(true) {
					prefs = append(prefs, b)
				}
			}
		}
		return prefs, names
	}
	bounded := kind != keyToken && rt.cfg.BoundedLoad > 0
	if want > 0 && want < len(v.list) && !bounded {
		// The ring's first want owners are enough when they are usable,
		// as they are but for a failing member.
		names = v.ring.Owners(key, want, names[:0])
		n := len(prefs)
		for _, name := range names {
			if b := v.backends[name]; b.usable(false) {
				prefs = append(prefs, b)
			}
		}
		if len(prefs)-n == want || len(names) < want { // all usable, or all the ring has
			return prefs, names
		}
		prefs = prefs[:n]
	}
	names = v.ring.Owners(key, len(v.list), names[:0])
	for _, name := range names {
		if b := v.backends[name]; b.usable(false) {
			prefs = append(prefs, b)
		}
	}
	if bounded {
		prefs = boundLoad(prefs, rt.cfg.BoundedLoad, v.list)
	}
	if want > 0 && len(prefs) > want {
		prefs = prefs[:want]
	}
	return prefs, names
}

// boundLoad moves to the front the first backend whose load stays within
// c times the mean (Mirrokni, Thorup and Zadimoghaddam's bounded loads).
func boundLoad(prefs []*backend, c float64, all []*backend) []*backend {
	total := int64(1)
	for _, b := range all {
		total += b.inflight.Load()
	}
	limit := c * float64(total) / float64(len(all))
	for i, b := range prefs {
		if float64(b.inflight.Load()+1) <= limit {
			copy(prefs[1:i+1], prefs[:i]) // prefs is the caller's own: moved in place
			prefs[0] = b
			return prefs
		}
	}
	return prefs
}

// key returns the request's routing key, trying the key sources in order.
func (rt *Router) key(r *http.Request) ([]byte, keyKind) {
	for _, ks := range rt.keys {
		switch ks.kind {
		case keyToken:
			for _, t := range rt.cfg.tokenTransports {
				if tok := t.Token(r); tok != "" {
					h := routing.Key(tok)
					return h[:], keyToken
				}
			}
		case keyIP:
			if ip := rt.resolver.IP(r); ip.IsValid() {
				return []byte(ip.String()), keyIP
			}
		case keyHeader:
			if v := r.Header.Get(ks.name); v != "" {
				return []byte(v), keyHeader
			}
		case keyCookie:
			if c, err := r.Cookie(ks.name); err == nil && c.Value != "" {
				return []byte(c.Value), keyCookie
			}
		case keyQuery:
			if v := r.URL.Query().Get(ks.name); v != "" {
				return []byte(v), keyQuery
			}
		}
	}
	return nil, keyNone
}

// rewrite builds the outgoing request for the backend being tried.
func (rt *Router) rewrite(pr *httputil.ProxyRequest) {
	rr := pr.In.Context().Value(routeKey{}).(*route)
	rr.prefs[rr.i].rewrite(pr)
	rt.setForwarded(pr)
	if rt.cfg.Trace != nil {
		rt.traceOut(pr.In.Context(), pr.Out.Header)
	}
}

// setForwarded sets X-Forwarded-For, -Host and -Proto. The incoming
// X-Forwarded-For chain is kept only when the peer is a trusted proxy.
func (rt *Router) setForwarded(pr *httputil.ProxyRequest) {
	peer := clientip.Peer(pr.In)
	chain := ""
	if peer.IsValid() && rt.resolver.Trusts(peer) {
		chain = strings.Join(pr.In.Header.Values("X-Forwarded-For"), ", ")
	}
	if peer.IsValid() {
		if chain != "" {
			chain += ", "
		}
		chain += peer.String()
	}
	if chain != "" {
		pr.Out.Header.Set("X-Forwarded-For", chain)
	}
	pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
	proto := "http"
	if pr.In.TLS != nil {
		proto = "https"
	}
	pr.Out.Header.Set("X-Forwarded-Proto", proto)
}

func (rt *Router) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusBadGateway
	rr, _ := r.Context().Value(routeKey{}).(*route)
	var mbe *http.MaxBytesError
	switch {
	case rr != nil && rr.tooMany.Load():
		err = errTooManyInformational
	case rr != nil && rr.bodyTimedOut.Load():
		code = http.StatusRequestTimeout
		w.Header().Set("Connection", "close")
	case errors.As(err, &mbe):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		code = http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		code = 499 // the client went away; nobody reads this
	}
	rt.cfg.Logger.Warn("router: backend failed", slog.String("path", r.URL.Path), slog.Int("status", code), slog.String("err", err.Error()))
	http.Error(w, http.StatusText(code), code)
}

// errBodyTimeout ends a request whose body came too slowly.
var errBodyTimeout = errors.New("router: request body too slow")

// timedBody holds a request body to Config's RequestBodyTimeout and
// MinBodyRate through read deadlines on the client connection.
type timedBody struct {
	io.ReadCloser
	cfg   *Config
	rc    *http.ResponseController
	start time.Time
	rr    *route
	read  int64

	mu      sync.Mutex
	stopped bool // the handler returned: rc is not to be used
	set     bool // a deadline is set
}

func (b *timedBody) Read(p []byte) (int, error) {
	b.deadline(b.cfg.bodyDeadline(b.start, b.read))
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.rr.bodyTimedOut.Store(true)
		return n, errBodyTimeout
	case err != nil:
		b.deadline(time.Time{}) // read to its end: the connection's deadline is net/http's again
	}
	return n, err
}

func (b *timedBody) deadline(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped && (b.set || !t.IsZero()) {
		b.rc.SetReadDeadline(t)
		b.set = !t.IsZero()
	}
}

// stop clears the deadline when the handler returns, unless the body
// timed out: then the deadline stays past, so that net/http's server
// does not wait for the rest of the body, and closes the connection.
func (b *timedBody) stop() {
	if !b.rr.bodyTimedOut.Load() {
		b.deadline(time.Time{})
	}
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
}

// statusWriter records the response status for metrics and the access
// log, and bounds the 1xx responses passed on.
type statusWriter struct {
	http.ResponseWriter
	code int
	rr   *route
}

func (w *statusWriter) WriteHeader(code int) {
	if code >= 200 {
		w.code = code
	} else if code != http.StatusSwitchingProtocols {
		// The reverse proxy's Got1xxResponse, under its lock.
		if w.rr.informational == maxInformational {
			w.rr.tooMany.Store(true)
			w.rr.cancel(errTooManyInformational)
			return
		}
		w.rr.informational++
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streamed responses through at once.
func (w *statusWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// bufferPool lends the reverse proxy its copy buffers: without one it
// allocates 32 KiB for every response.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (bufferPool) Get() []byte  { return copyBuffers.Get().(*[32 << 10]byte)[:] }
func (bufferPool) Put(b []byte) { copyBuffers.Put((*[32 << 10]byte)(b)) }
