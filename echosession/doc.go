// Package echosession puts sessionkit's sessions on an echo server.
//
// Middleware gives every request its session from a sessionkit.Manager,
// and Get returns it in a handler:
//
//	e := echo.New()
//	e.Use(echosession.Middleware(mgr))
//	e.POST("/login", func(c echo.Context) error {
//		s := echosession.Get(c)
//		if err := s.SetPrincipal(c.FormValue("user")); err != nil {
//			return echo.NewHTTPError(sessionkit.ErrorStatus(err)).SetInternal(err)
//		}
//		return c.String(http.StatusOK, "welcome "+s.Principal())
//	})
//
// The session is committed once, just before the response's header is
// written: by the handler's first write (c.String, c.JSON...),
// c.Response().WriteHeader, a Flush (server-sent events) or a Hijack (a
// WebSocket upgrade), or else when the handler returns. Set every value
// before writing the body: a session write after it returns
// sessionkit.ErrCommitted.
//
// An error the handler returns is answered by echo's HTTPErrorHandler
// before the commit, so the error page carries the session's cookie and
// the error handler may still write to the session (a flash message for
// the login page). echo.WrapMiddleware(mgr.Handler) commits the session
// too, but before the error handler runs.
//
// Wrapping the whole server instead (http.ListenAndServe(addr,
// mgr.Handler(e))) works too, and Get finds that session as well.
package echosession
