// Package ginsession puts sessionkit's sessions on a gin engine.
//
// Middleware gives every request its session from a sessionkit.Manager, and
// Default returns it in a handler, as gin-contrib/sessions' Default does:
//
//	r := gin.New()
//	r.Use(ginsession.Middleware(mgr))
//	r.POST("/login", func(c *gin.Context) {
//		s := ginsession.Default(c)
//		if err := s.SetPrincipal(c.PostForm("user")); err != nil {
//			c.AbortWithError(sessionkit.ErrorStatus(err), err)
//			return
//		}
//		c.String(http.StatusOK, "welcome %s", s.Principal())
//	})
//
// The session is committed once, just before the response's header is
// sent: by the handler's first write (c.String, c.JSON, c.Writer.Write...),
// c.Writer.WriteHeaderNow, a Flush (c.Stream, server-sent events) or a
// Hijack (a WebSocket upgrade), or else when the handlers return. Set every
// value before writing the body: a session write after it returns
// sessionkit.ErrCommitted. c.Status only records the status, as in gin, and
// sends nothing.
//
// A middleware that merely sets c.Request to the Manager's request and
// calls c.Next loses the session: gin's c.Writer is not the Manager's
// response writer, so the header (without its Set-Cookie) leaves before
// the commit, and later writes are lost without an error. Middleware runs
// the handlers inside Manager.Handler and gives them a c.Writer that
// writes through the Manager's writer, keeping gin's Status, Size, Written,
// WriteHeaderNow, Flush, Hijack, CloseNotify and Pusher.
//
// Wrapping the whole engine instead (http.ListenAndServe(addr,
// mgr.Handler(r))) works too, and Default finds that session as well.
package ginsession
