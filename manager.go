package sessionkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/internal/clientip"
	"github.com/sessionkit/sessionkit/internal/token"
)

// Manager is net/http middleware that gives every request its session. It
// is safe for concurrent use.
type Manager struct {
	cfg     Config
	store   Store
	lazy    LazyLoader // store, when it is one
	minter  Minter
	checker func(string) bool
	limiter *creationLimiter
	starter OpStarter // cfg.Observer, when it is one
	varyOn  string    // the request header that carries the token, for Vary; "" for none
}

// New returns a Manager keeping sessions in store, configured by cfg (whose
// zero value is the production default). It fails on an invalid
// configuration, such as a cookie Domain that is a public suffix.
func New(store Store, cfg Config) (*Manager, error) {
	if store == nil {
		return nil, errors.New("sessionkit: New needs a Store (memstore.New(memstore.Config{}) keeps sessions in memory)")
	}
	cfg.setDefaults()
	m := &Manager{cfg: cfg, store: store, minter: cfg.Minter, checker: token.Valid}
	if m.minter == nil {
		if mt, ok := store.(Minter); ok {
			m.minter = mt
		}
	}
	m.lazy, _ = Lazy(store)
	if tc, ok := store.(TokenChecker); ok {
		m.checker = tc.ValidToken
	}
	if ct, ok := cfg.Transport.(*CookieTransport); ok {
		if err := ct.check(); err != nil {
			return nil, err
		}
		if cb, ok := store.(CookieBound); ok {
			if name, n := cb.CookieBinding(); name != ct.CookieName() || n > ct.MaxTokenLen() {
				return nil, fmt.Errorf("sessionkit: the store seals tokens of up to %d bytes for the cookie %q, the transport carries %d bytes in %q: give the store the transport's CookieName() and MaxTokenLen()",
					n, name, ct.MaxTokenLen(), ct.CookieName())
			}
		}
		if ct.Insecure {
			cfg.Logger.Warn("sessionkit: development mode: the session cookie is not Secure and has no __Host- prefix; serve it only over plain HTTP on loopback",
				slog.String("cookie", ct.CookieName()))
		}
	}
	m.starter, _ = cfg.Observer.(OpStarter)
	if en, ok := store.(ExpiryNotifier); ok && cfg.Observer != nil {
		en.NotifyExpired(m.expired)
	}
	if l := cfg.CreateLimit; l != nil {
		m.limiter = newCreationLimiter(l)
	}
	if !cfg.DisableCacheHeaders {
		m.varyOn = varyHeader(cfg.Transport)
	}
	return m, nil
}

// Store returns the Manager's store.
func (m *Manager) Store() Store { return m.store }

// Handler returns middleware that gives each request handled by next its
// Session (FromContext) and commits it once, just before the response's
// header is written, or when next returns without writing.
//
// The session is loaded lazily: a request whose handler never calls a
// Session method costs no store access and sets no cookie.
//
// A hijack (a WebSocket upgrade) commits the session too, and leaves the
// token's Set-Cookie, when there is one to send, in w.Header(). An upgrader
// that writes its own handshake sends it only when given that header:
// gorilla/websocket's Upgrade(w, r, w.Header()). Others (x/net/websocket)
// send none: change the session in an ordinary request before the upgrade,
// or over the socket with Load and Commit.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{Context: r.Context(), m: m}
		r = r.WithContext(st)
		st.w = responseWriter{ResponseWriter: w, st: st, r: r}
		st.sess = Session{m: m, r: r, ctx: st}
		next.ServeHTTP(&st.w, r)
		st.w.commit()
	})
}

// Load returns the session whose token is tok, for work outside an HTTP
// handler: a WebSocket message loop, a gRPC call, a background job. An
// empty, malformed, expired or unknown token gives a new, empty session,
// as a request with such a token gets; an error means the store could not
// be reached. The session's writes follow the same rules as a request's
// and are written by its Commit; Update, Renew and Destroy reach the store
// at once, with ctx. Sessions made this way are not counted by the
// CreateLimit, which limits clients by address.
func (m *Manager) Load(ctx context.Context, tok string) (*Session, error) {
	s := &Session{m: m, ctx: ctx, raw: tok}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Token returns the session token r carries, as the Manager's transport
// reads it: what a WebSocket handler gives Load for the connection's
// session. It is "" when r carries none.
func (m *Manager) Token(r *http.Request) string {
	return m.cfg.Transport.Token(r)
}

// RevokeAll deletes every session of the principal ("log out everywhere")
// and returns how many it deleted (-1 when the store cannot count them).
// An Observer then sees one Revoked event, which names the principal.
// It returns ErrNotSupported if the store does not implement Principals.
func (m *Manager) RevokeAll(ctx context.Context, principal string) (int, error) {
	p, ok := m.store.(Principals)
	if !ok {
		return 0, ErrNotSupported
	}
	n, err := p.RevokeAll(ctx, principal)
	if err != nil {
		return n, m.storeErr("revoke", err)
	}
	if m.cfg.Observer != nil {
		m.changed(ctx, Revoked, "", "", principal)
	}
	return n, nil
}

// Sessions lists the live sessions of the principal. It returns
// ErrNotSupported if the store does not implement Principals.
func (m *Manager) Sessions(ctx context.Context, principal string) ([]Info, error) {
	p, ok := m.store.(Principals)
	if !ok {
		return nil, ErrNotSupported
	}
	infos, err := p.Sessions(ctx, principal)
	if err != nil {
		return nil, m.storeErr("list", err)
	}
	return infos, nil
}

// ErrorStatus returns the HTTP status the default ErrorHandler answers err
// with: 409 for ErrConflict, 429 for ErrRateLimited, 503 for
// ErrUnavailable, 501 for ErrNotSupported, 500 otherwise (ErrTooLarge
// included).
func ErrorStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotSupported):
		return http.StatusNotImplemented
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	if m.cfg.ErrorHandler != nil {
		m.cfg.ErrorHandler(w, r, err)
		return
	}
	code := ErrorStatus(err)
	level := slog.LevelError
	if code == http.StatusConflict || code == http.StatusTooManyRequests {
		level = slog.LevelWarn
	}
	m.cfg.Logger.LogAttrs(r.Context(), level, "sessionkit: session failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", code), slog.String("err", err.Error()))
	msg := http.StatusText(code)
	switch code {
	case http.StatusServiceUnavailable:
		msg = "session store unavailable, please retry"
	case http.StatusConflict:
		msg = "the session changed meanwhile, please retry"
	}
	w.Header().Del("Set-Cookie")
	w.Header().Set("Retry-After", "1")
	http.Error(w, msg, code)
}

// vary adds the header that carries the token to the response's Vary, for
// a response whose content came from the session: a cache must not serve
// it to a request with another token, or none.
//
// buf, when not nil, holds the value of a Vary the response does not have
// yet: the request's own array instead of an allocation, with a capacity of
// one so that an append elsewhere copies it.
func (m *Manager) vary(h http.Header, buf *[1]string) {
	if m.varyOn == "" {
		return
	}
	vs := h["Vary"]
	for _, v := range vs {
		if hasToken(v, m.varyOn) || hasToken(v, "*") {
			return
		}
	}
	if len(vs) == 0 && buf != nil {
		buf[0] = m.varyOn
		h["Vary"] = buf[:1:1]
		return
	}
	h["Vary"] = append(vs[:len(vs):len(vs)], m.varyOn) // never into the spare room of the handler's slice
}

// setToken makes the response carry token t (or clear it) and keeps every
// cache from storing the response: a token in a cache is a token served to
// whoever asks next.
//
// no-store rather than scs's no-cache="Set-Cookie": OWASP's session cheat
// sheet asks for restrictive cache directives, and the field-name form of
// no-cache is not widely implemented (RFC 9111, 5.2.2.4): a cache that
// ignores the field name stores the Set-Cookie with the page, and a header
// transport's token is no Set-Cookie at all. Only the responses that set,
// renew or clear a token are affected.
func (m *Manager) setToken(w http.ResponseWriter, r *http.Request, t string, expires time.Time) {
	if !m.cfg.DisableCacheHeaders {
		noStore(w.Header())
	}
	m.cfg.Transport.SetToken(w, r, t, expires)
}

// noStore adds no-store to the response's Cache-Control, keeping what the
// handler set: no-store is the strictest directive, so nothing it could
// have set is weakened.
func noStore(h http.Header) {
	cc := h["Cache-Control"]
	for _, v := range cc {
		if hasToken(v, "no-store") {
			return
		}
	}
	h["Cache-Control"] = append(cc, "no-store")
}

// hasToken reports whether the comma-separated header value v lists tok,
// in any case; a directive's argument (max-age=0) is not part of its name.
func hasToken(v, tok string) bool {
	for v != "" {
		var item string
		item, v, _ = strings.Cut(v, ",")
		item, _, _ = strings.Cut(item, "=")
		if strings.EqualFold(strings.TrimSpace(item), tok) {
			return true
		}
	}
	return false
}

// storeErr classifies an error a store returned.
func (m *Manager) storeErr(op string, err error) error {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict),
		errors.Is(err, ErrTooLarge), errors.Is(err, ErrUnavailable), errors.Is(err, ErrNotSupported):
		return fmt.Errorf("sessionkit: %s: %w", op, err)
	default:
		return fmt.Errorf("sessionkit: %s: %w: %w", op, ErrUnavailable, err)
	}
}

// startOp returns the context a store operation runs in, and its start
// (zero without an Observer, which is the only reader of it).
func (m *Manager) startOp(ctx context.Context, op Op) (context.Context, time.Time) {
	if m.cfg.Observer == nil {
		return ctx, time.Time{}
	}
	if m.starter != nil {
		ctx = m.starter.StartOp(ctx, op)
	}
	return ctx, time.Now()
}

// observe reports a store operation begun with startOp to the Observer.
func (m *Manager) observe(ctx context.Context, op Op, start time.Time, bytes int, found bool, err error) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.Observe(ctx, Event{Op: op, Duration: time.Since(start), Bytes: bytes, Found: found, Err: err})
	}
}

// observeValues is observe for an operation that moved values, whose size
// it counts only for an Observer.
func (m *Manager) observeValues(ctx context.Context, op Op, start time.Time, values map[string][]byte, found bool, err error) {
	if m.cfg.Observer != nil {
		m.observe(ctx, op, start, mapSize(values), found, err)
	}
}

func (m *Manager) mint(ctx context.Context) (Token, error) {
	if m.minter == nil {
		return NewToken(), nil
	}
	t, err := m.minter.Mint(ctx)
	if err != nil {
		return "", m.storeErr("mint", err)
	}
	return t, nil
}

// ctxKey is the context key of the innermost Manager's request state;
// managerKey that of one Manager's.
type (
	ctxKey     struct{}
	managerKey struct{ m *Manager }
)

// reqState is everything the middleware keeps for one request, in one
// allocation: it is the request's context, its response writer and, once a
// handler asks for it, its session.
type reqState struct {
	context.Context
	m     *Manager
	w     responseWriter
	state atomic.Uint32 // noSession, inSession or committedEarly
	sess  Session       // the request's session, once state is inSession
	vary  [1]string     // the backing array of the Vary header the commit adds
}

// The states of a request's session.
const (
	noSession      = iota // no handler asked for the session yet
	inSession             // sess is the request's session
	committedEarly        // the response was committed before a handler asked
)

// Value implements context.Context.
func (st *reqState) Value(key any) any {
	switch key {
	case ctxKey{}, managerKey{st.m}:
		return st
	}
	return st.Context.Value(key)
}

// session returns the request's session, making it on first use. A session
// made after the response was committed is committed from the start: it
// reads, and refuses writes with ErrCommitted.
func (st *reqState) session() *Session {
	for {
		switch st.state.Load() {
		case inSession:
			return &st.sess
		case noSession:
			if st.state.CompareAndSwap(noSession, inSession) {
				return &st.sess
			}
		case committedEarly:
			st.sess.mu.Lock()
			st.sess.committed = true
			st.sess.mu.Unlock()
			if st.state.CompareAndSwap(committedEarly, inSession) {
				return &st.sess
			}
		}
	}
}

// FromContext returns the session of the request whose context is ctx, or
// nil when ctx does not come from a request behind Manager.Handler. Behind
// several Managers it is the innermost one's session; Manager.FromContext
// returns each one's. The methods of a nil *Session return ErrNoSession or
// zero values.
func FromContext(ctx context.Context) *Session {
	st, ok := ctx.Value(ctxKey{}).(*reqState)
	if !ok {
		return nil
	}
	return st.session()
}

// FromContext returns the session m keeps for the request whose context is
// ctx, or nil when the request did not pass m's Handler: with two Managers
// on one request (an application's session and an administrator's, each
// with its own cookie), each handler asks its own Manager.
func (m *Manager) FromContext(ctx context.Context) *Session {
	st, ok := ctx.Value(managerKey{m}).(*reqState)
	if !ok {
		return nil
	}
	return st.session()
}

// responseWriter commits the session before the response's header is
// written. It implements the optional interfaces itself so that none of
// them can write the header behind its back, and Unwrap for the rest
// (http.ResponseController).
type responseWriter struct {
	http.ResponseWriter
	st   *reqState
	r    *http.Request
	once bool
	err  error
}

// commit commits the session once and reports whether the response may go
// on. When the commit fails, the error handler writes the response instead.
func (w *responseWriter) commit() bool {
	if w.once {
		return w.err == nil
	}
	w.once = true
	if w.st.state.CompareAndSwap(noSession, committedEarly) {
		return true // no session yet; one made later refuses writes
	}
	if err := w.st.sess.commit(w.ResponseWriter, &w.st.vary); err != nil {
		w.err = err
		w.st.m.fail(w.ResponseWriter, w.r, err)
		return false
	}
	return true
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // 1xx: informational, not the response
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.commit() {
		return 0, w.err
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.commit() {
		return 0, w.err
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

func (w *responseWriter) Flush() { _ = w.FlushError() }

func (w *responseWriter) FlushError() error {
	if !w.commit() {
		return w.err
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.commit() {
		return nil, nil, w.err
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// creationLimiter is a token bucket per client network (an IPv4 address,
// an IPv6 /64), in a table of bounded size.
type creationLimiter struct {
	resolver clientip.Resolver
	buckets  *clientip.Limiter
}

func newCreationLimiter(cfg *CreateLimit) *creationLimiter {
	burst := cfg.Burst
	if burst <= 0 {
		burst = 10
	}
	return &creationLimiter{resolver: clientip.Resolver{Trusted: cfg.TrustedProxies}, buckets: clientip.NewLimiter(cfg.Rate, burst, 0)}
}

func (l *creationLimiter) allow(r *http.Request) bool {
	return l.buckets.Allow(l.resolver.IP(r), time.Now())
}
