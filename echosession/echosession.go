package echosession

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sessionkit/sessionkit"
)

// managerKey is the echo context key under which Middleware keeps its
// Manager, for Get.
const managerKey = "github.com/sessionkit/sessionkit/echosession"

// Middleware returns echo middleware that gives each request its session
// from m and commits it before the response's header is written.
//
// The handlers after it run inside m.Handler, and c.Response().Writer is
// the Manager's response writer: the first write, Flush or Hijack commits
// the session, so the Set-Cookie goes out with the header, and a session
// write after that returns sessionkit.ErrCommitted. The *echo.Response
// stays the same, so its Before and After hooks, Status, Size and
// Committed keep working for the middlewares before this one.
//
// An error that the next handler returns is handed to echo's
// HTTPErrorHandler (c.Error) inside the Manager's handler, as echo's Logger
// middleware does: the error response carries the session's cookie, and
// the error handler can still write to the session (a flash message). The
// error is then returned for the middlewares before this one; echo calls
// its error handler again, which must do nothing for a committed response
// (c.Response().Committed), as echo's default one does.
//
// c.Request() keeps the session's context after the middleware returns, so
// a middleware before it can read the session once next returns. A handler
// that panics commits nothing, as behind Manager.Handler.
func Middleware(m *sessionkit.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			c.Set(managerKey, m)
			res := c.Response()
			outer := res.Writer
			defer func() { res.Writer = outer }()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				res.Writer = w
				if err = next(c); err != nil {
					c.Error(err)
				}
			})).ServeHTTP(&statusWriter{ResponseWriter: outer, res: res}, c.Request())
			return err
		}
	}
}

// Get returns the request's session: the one of the Manager whose
// Middleware the request passed (the innermost one, when it passed
// several), or else the one of the innermost Manager.Handler around the
// server (sessionkit.FromContext). It returns nil when there is neither;
// the methods of a nil *sessionkit.Session return sessionkit.ErrNoSession.
// With two Managers on one request, m.FromContext(c.Request().Context())
// returns each one's session.
func Get(c echo.Context) *sessionkit.Session {
	ctx := c.Request().Context()
	if m, ok := c.Get(managerKey).(*sessionkit.Manager); ok {
		if s := m.FromContext(ctx); s != nil {
			return s
		}
	}
	return sessionkit.FromContext(ctx)
}

// statusWriter is the writer beneath the Manager's. When the Manager
// writes a response of its own (its error response, when the commit
// fails), it records its status in the echo.Response, as if the response
// had been written through it, so that the error handler leaves it alone
// and a logger reports it.
type statusWriter struct {
	http.ResponseWriter
	res *echo.Response
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.res.Committed && code >= 200 { // a 1xx is not the response
		w.res.Status, w.res.Committed = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the writer beneath, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
