package echosession_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/webtest"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/echosession"
)

// newEcho returns a server whose log goes nowhere, with the middlewares
// given and the pages the tests visit besides their own: /login?u= sets
// the principal and writes a body, /get?k= writes a value.
func newEcho(mw ...echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.Logger.SetOutput(io.Discard)
	e.Use(mw...)
	e.GET("/login", func(c echo.Context) error {
		s := echosession.Get(c)
		if err := s.SetPrincipal(c.QueryParam("u")); err != nil {
			return err
		}
		return c.String(http.StatusOK, "welcome "+s.Principal())
	})
	e.GET("/get", func(c echo.Context) error {
		v, _ := sessionkit.Get[string](echosession.Get(c), c.QueryParam("k"))
		return c.String(http.StatusOK, v)
	})
	return e
}

// The cookie set at login, with a body written after the session write,
// reaches the client, and the next request with it finds the session.
func TestLoginSetsTheCookie(t *testing.T) {
	e := newEcho(echosession.Middleware(webtest.NewManager(t, sessionkit.Config{})))
	cookie := webtest.Login(t, e, "alice")
	e.GET("/who", func(c echo.Context) error { return c.String(http.StatusOK, echosession.Get(c).Principal()) })
	if got := webtest.Serve(e, "/who", cookie).Body.String(); got != "alice" {
		t.Fatalf("second request sees principal %q, want alice", got)
	}
}

// A handler that writes nothing: the Manager commits when it returns, and
// the cookie goes out with the header net/http then writes.
func TestNoBodyCommits(t *testing.T) {
	e := newEcho(echosession.Middleware(webtest.NewManager(t, sessionkit.Config{})))
	e.POST("/theme", func(c echo.Context) error {
		return echosession.Get(c).Set("theme", "dark")
	})
	req := httptest.NewRequest("POST", "/theme", nil)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	cookie := webtest.Cookies(w.Result())
	if w.Code != http.StatusOK || cookie == "" {
		t.Fatalf("got %d with cookie %q, want 200 with the session's cookie", w.Code, cookie)
	}
	if got := webtest.Serve(e, "/get?k=theme", cookie).Body.String(); got != "dark" {
		t.Fatalf("the session holds %q, want dark", got)
	}
}

// A session write after the body was written returns ErrCommitted, and
// nothing of it is kept.
func TestWriteAfterBodyIsErrCommitted(t *testing.T) {
	e := newEcho(echosession.Middleware(webtest.NewManager(t, sessionkit.Config{})))
	var lateErr error
	e.GET("/late", func(c echo.Context) error {
		if err := c.String(http.StatusOK, "body"); err != nil {
			return err
		}
		lateErr = echosession.Get(c).Set("k", "late")
		return nil
	})
	w := webtest.Serve(e, "/late", "")
	if !errors.Is(lateErr, sessionkit.ErrCommitted) {
		t.Fatalf("Set after the body: %v, want ErrCommitted", lateErr)
	}
	if c := webtest.Cookies(w.Result()); c != "" {
		t.Fatalf("a refused write made a session: %s", c)
	}
}

// An error the handler returns is answered before the commit: the error
// page carries the cookie of the session the handler wrote, and the error
// handler itself can still write to the session. echo.WrapMiddleware
// commits before its error handler runs, so the flash is refused there.
func TestHandlerError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mw    func(m *sessionkit.Manager) echo.MiddlewareFunc
		flash bool
	}{
		{"WrapMiddleware", func(m *sessionkit.Manager) echo.MiddlewareFunc { return echo.WrapMiddleware(m.Handler) }, false},
		{"Middleware", echosession.Middleware, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := webtest.NewManager(t, sessionkit.Config{})
			e := newEcho(tc.mw(m))
			calls, flashErr := 0, error(nil)
			e.HTTPErrorHandler = func(err error, c echo.Context) {
				calls++
				if c.Response().Committed {
					return // answered already, as echo's default handler does
				}
				flashErr = m.FromContext(c.Request().Context()).Set("flash", "please log in")
				e.DefaultHTTPErrorHandler(err, c)
			}
			e.GET("/private", func(c echo.Context) error {
				if err := m.FromContext(c.Request().Context()).Set("wanted", "/private"); err != nil {
					return err
				}
				return echo.NewHTTPError(http.StatusUnauthorized)
			})
			w := webtest.Serve(e, "/private", "")
			cookie := webtest.Cookies(w.Result())
			if w.Code != http.StatusUnauthorized || cookie == "" {
				t.Fatalf("got %d with cookie %q, want 401 with the session's cookie", w.Code, cookie)
			}
			if got := errors.Is(flashErr, sessionkit.ErrCommitted); got == tc.flash {
				t.Fatalf("the error handler's session write: %v", flashErr)
			}
			if tc.flash && calls != 2 {
				t.Fatalf("the error handler ran %d times, want 2: inside Middleware, then by echo for the error returned", calls)
			}
			flash := ""
			if tc.flash {
				flash = "please log in"
			}
			if got := webtest.Serve(e, "/get?k=flash", cookie).Body.String(); got != flash {
				t.Fatalf("flash %q, want %q", got, flash)
			}
			if got := webtest.Serve(e, "/get?k=wanted", cookie).Body.String(); got != "/private" {
				t.Fatalf("the handler's value %q, want /private", got)
			}
		})
	}
}

// Before hooks that a middleware before Middleware registers run, before
// the header is written.
func TestBeforeHooksRun(t *testing.T) {
	hooked := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Before(func() { c.Response().Header().Set("X-Hooked", "yes") })
			return next(c)
		}
	}
	e := newEcho(hooked, echosession.Middleware(webtest.NewManager(t, sessionkit.Config{})))
	w := webtest.Serve(e, "/login?u=alice", "")
	if w.Header().Get("X-Hooked") != "yes" || webtest.Cookies(w.Result()) == "" {
		t.Fatalf("header %v, want the hook's header and the session's cookie", w.Header())
	}
}

// Streaming: the header, flushed alone as a server-sent events handler
// does, carries the session's cookie, and the first chunk reaches the
// client while the handler waits to send the second.
func TestStreamFlushes(t *testing.T) {
	e := newEcho(echosession.Middleware(webtest.NewManager(t, sessionkit.Config{})))
	second := make(chan struct{})
	lateErr := make(chan error, 1)
	e.GET("/stream", func(c echo.Context) error {
		if err := echosession.Get(c).Set("stream", "on"); err != nil {
			return err
		}
		res := c.Response()
		res.Header().Set(echo.HeaderContentType, "text/event-stream")
		res.WriteHeader(http.StatusOK)
		res.Flush()
		io.WriteString(res, "first;")
		res.Flush()
		<-second
		lateErr <- echosession.Get(c).Set("stream", "off")
		io.WriteString(res, "second")
		return nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	var once bool
	release := func() {
		if !once {
			once = true
			close(second)
		}
	}
	defer release()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cookie := webtest.Cookies(resp)
	if cookie == "" {
		t.Fatalf("the streamed response's header has no Set-Cookie: %v", resp.Header)
	}
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("reading the first chunk while the handler holds the second: %v", err)
	}
	release()
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(first) + string(rest); got != "first;second" {
		t.Fatalf("body %q", got)
	}
	if err := <-lateErr; !errors.Is(err, sessionkit.ErrCommitted) {
		t.Fatalf("Set after the first flush: %v, want ErrCommitted", err)
	}
	if got := webtest.Serve(e, "/get?k=stream", cookie).Body.String(); got != "on" {
		t.Fatalf("the session holds %q, want on", got)
	}
}

// A WebSocket upgrade through Middleware completes, the handler reads its
// session inside the WebSocket exchange, and a session written before the
// upgrade sends its cookie with the 101.
func TestWebSocket(t *testing.T) {
	e := newEcho(echosession.Middleware(webtest.NewManager(t, sessionkit.Config{})))
	e.GET("/ws", func(c echo.Context) error {
		s := echosession.Get(c)
		if err := s.Set("ws", "opened"); err != nil {
			return err
		}
		conn, err := websocket.Accept(c.Response(), c.Request(), nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return nil
		}
		defer conn.CloseNow()
		ctx := c.Request().Context()
		_, msg, err := conn.Read(ctx)
		if err != nil {
			t.Errorf("server read: %v", err)
			return nil
		}
		user := s.Principal() // the session, read inside the WebSocket exchange
		ws, _ := sessionkit.Get[string](s, "ws")
		if err := conn.Write(ctx, websocket.MessageText, []byte(user+" "+ws+": "+string(msg))); err != nil {
			t.Errorf("server write: %v", err)
			return nil
		}
		conn.Close(websocket.StatusNormalClosure, "")
		return nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	exchange := func(t *testing.T, cookie string) (reply string, resp *http.Response) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h := http.Header{}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.CloseNow()
		if err := conn.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), resp
	}

	t.Run("LoggedIn", func(t *testing.T) {
		reply, _ := exchange(t, webtest.Login(t, e, "alice"))
		if reply != "alice opened: hi" {
			t.Fatalf("reply %q, want the session's principal and value", reply)
		}
	})
	t.Run("NewSession", func(t *testing.T) {
		reply, resp := exchange(t, "")
		if reply != " opened: hi" {
			t.Fatalf("reply %q", reply)
		}
		cookie := webtest.Cookies(resp)
		if resp.StatusCode != http.StatusSwitchingProtocols || cookie == "" {
			t.Fatalf("upgrade: %d with cookie %q, want 101 with the new session's", resp.StatusCode, cookie)
		}
		if got := webtest.Serve(e, "/get?k=ws", cookie).Body.String(); got != "opened" {
			t.Fatalf("the session written before the upgrade holds %q", got)
		}
	})
}

// A middleware before Middleware sees the echo.Response's status and size
// after next, and the session the handler used.
func TestOuterMiddlewareSeesStatusAndSession(t *testing.T) {
	var status int
	var size int64
	var user string
	outer := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			status, size = c.Response().Status, c.Response().Size
			user = echosession.Get(c).Principal()
			return err
		}
	}
	e := newEcho(outer, echosession.Middleware(webtest.NewManager(t, sessionkit.Config{})))
	e.GET("/accept", func(c echo.Context) error {
		echosession.Get(c).SetPrincipal("alice")
		return c.String(http.StatusAccepted, "12345")
	})
	w := webtest.Serve(e, "/accept", "")
	if w.Code != http.StatusAccepted || webtest.Cookies(w.Result()) == "" {
		t.Fatalf("got %d, header %v", w.Code, w.Header())
	}
	if status != http.StatusAccepted || size != 5 || user != "alice" {
		t.Fatalf("outer middleware saw status %d, size %d, principal %q; want 202, 5, alice", status, size, user)
	}
}

// A commit that fails answers with the Manager's error response, which
// the echo.Response records, so that the error handler leaves it alone and
// a logger sees its status; the handler's own write fails.
func TestCommitFailure(t *testing.T) {
	var status int
	var writeErr error
	outer := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			status = c.Response().Status
			return err
		}
	}
	e := newEcho(outer, echosession.Middleware(webtest.NewManager(t, sessionkit.Config{MaxSize: 16})))
	e.GET("/", func(c echo.Context) error {
		echosession.Get(c).Set("big", strings.Repeat("x", 100))
		writeErr = c.String(http.StatusOK, "never sent")
		return writeErr
	})
	w := webtest.Serve(e, "/", "")
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "never sent") || webtest.Cookies(w.Result()) != "" {
		t.Fatalf("got %d %q, cookie %q; want the Manager's 500 alone", w.Code, w.Body, webtest.Cookies(w.Result()))
	}
	if !errors.Is(writeErr, sessionkit.ErrTooLarge) || status != http.StatusInternalServerError {
		t.Fatalf("handler's write: %v, outer middleware saw %d; want ErrTooLarge and 500", writeErr, status)
	}
	if got := w.Body.String(); got != "Internal Server Error\n" {
		t.Fatalf("body %q, want the Manager's error page alone", got)
	}
}

// A handler that panics commits nothing: echo's Recover answers 500
// without the session's cookie, as a panic behind Manager.Handler does.
func TestPanicCommitsNothing(t *testing.T) {
	m := webtest.NewManager(t, sessionkit.Config{})
	e := newEcho(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}), echosession.Middleware(m))
	e.GET("/", func(c echo.Context) error {
		echosession.Get(c).Set("user", "alice")
		panic("handler failed")
	})
	w := webtest.Serve(e, "/", "")
	if w.Code != http.StatusInternalServerError || webtest.Cookies(w.Result()) != "" {
		t.Fatalf("got %d, cookie %q; want 500 and no cookie", w.Code, webtest.Cookies(w.Result()))
	}
}

// Get finds the session of the Manager the middleware was made with, the
// innermost one behind two, and that of a Manager.Handler around the whole
// server.
func TestGet(t *testing.T) {
	app := webtest.NewManager(t, sessionkit.Config{Transport: &sessionkit.CookieTransport{Name: "app"}})
	admin := webtest.NewManager(t, sessionkit.Config{Transport: &sessionkit.CookieTransport{Name: "admin"}})
	e := newEcho(echosession.Middleware(app), echosession.Middleware(admin))
	e.GET("/", func(c echo.Context) error {
		ctx := c.Request().Context()
		if echosession.Get(c) != admin.FromContext(ctx) || app.FromContext(ctx) == nil || app.FromContext(ctx) == admin.FromContext(ctx) {
			t.Error("Get is not the innermost Manager's session, or a Manager's session is missing")
		}
		return nil
	})
	webtest.Serve(e, "/", "")

	around := newEcho()
	around.GET("/", func(c echo.Context) error {
		if s := echosession.Get(c); s == nil || s != app.FromContext(c.Request().Context()) {
			t.Error("Get does not find the session of a Manager.Handler around the server")
		}
		return nil
	})
	webtest.Serve(app.Handler(around), "/", "")

	none := newEcho()
	none.GET("/", func(c echo.Context) error {
		if err := echosession.Get(c).Set("k", "v"); !errors.Is(err, sessionkit.ErrNoSession) {
			t.Errorf("Set without a Manager: %v, want ErrNoSession", err)
		}
		return nil
	})
	webtest.Serve(none, "/", "")
}
