package ginsession

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
)

// managerKey is the gin context key under which Middleware keeps its
// Manager, for Default.
type managerKey struct{}

// Middleware returns gin middleware that gives each request its session
// from m and commits it before the response's header is written.
//
// The handlers after it run inside m.Handler, and c.Writer writes through
// the Manager's response writer: the first Write, WriteHeaderNow, Flush or
// Hijack commits the session, so the Set-Cookie goes out with the header,
// and a session write after that returns sessionkit.ErrCommitted. As with
// gin's own writer, c.Status (c.Writer.WriteHeader) only records the status:
// the session can still change until the header is sent. A request that
// does not use its session costs no store access.
//
// c.Request keeps the session's context after the middleware returns, so a
// middleware before it can read the session once c.Next returns. A handler
// that panics commits nothing, as behind Manager.Handler.
func Middleware(m *sessionkit.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(managerKey{}, m)
		outer := c.Writer
		defer func() { c.Writer = outer }()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Writer = &writer{ResponseWriter: outer, mw: w}
			c.Next()
		})).ServeHTTP(outer, c.Request)
	}
}

// Default returns the request's session: the one of the Manager whose
// Middleware the request passed (the innermost one, when it passed
// several), or else the one of the innermost Manager.Handler around the
// engine (sessionkit.FromContext). It returns nil when there is neither;
// the methods of a nil *sessionkit.Session return sessionkit.ErrNoSession.
// With two Managers on one request, m.FromContext(c.Request.Context())
// returns each one's session.
func Default(c *gin.Context) *sessionkit.Session {
	if v, ok := c.Get(managerKey{}); ok {
		if s := v.(*sessionkit.Manager).FromContext(c.Request.Context()); s != nil {
			return s
		}
	}
	return sessionkit.FromContext(c.Request.Context())
}

// writer is the gin.ResponseWriter the handlers after Middleware see. It
// writes through the Manager's writer (mw), which commits the session and
// then writes to gin's writer beneath it (ResponseWriter). Everything that
// sends the header or the body goes through mw; the bookkeeping (Status,
// Size, Written) and the status that WriteHeader records are gin's.
type writer struct {
	gin.ResponseWriter
	mw http.ResponseWriter
}

var _ gin.ResponseWriter = (*writer)(nil)

// WriteHeader records the status, as gin's writer does; the header goes
// out with the first write, WriteHeaderNow or Flush.
func (w *writer) WriteHeader(code int) { w.ResponseWriter.WriteHeader(code) }

// WriteHeaderNow commits the session and sends the header with the
// recorded status. coder/websocket calls it to send its 101 before it
// hijacks the connection.
func (w *writer) WriteHeaderNow() {
	if w.ResponseWriter.Written() {
		return
	}
	w.mw.WriteHeader(w.ResponseWriter.Status())
	w.ResponseWriter.WriteHeaderNow()
}

func (w *writer) Write(b []byte) (int, error) { return w.mw.Write(b) }

func (w *writer) WriteString(s string) (int, error) { return io.WriteString(w.mw, s) }

// Flush commits the session and flushes the response, header first.
func (w *writer) Flush() { _ = http.NewResponseController(w.mw).Flush() }

// Hijack commits the session and hands over the connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.mw).Hijack()
}

// Unwrap returns the Manager's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.mw }
