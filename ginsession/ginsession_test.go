package ginsession_test

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
	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/ginsession"
)

// newEngine returns an engine behind Middleware(m) with the pages the
// tests visit besides their own: /login?u= sets the principal and writes a
// body, /get?k= writes a value.
func newEngine(m *sessionkit.Manager) *gin.Engine {
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.GET("/login", func(c *gin.Context) {
		s := ginsession.Default(c)
		if err := s.SetPrincipal(c.Query("u")); err != nil {
			c.AbortWithError(sessionkit.ErrorStatus(err), err)
			return
		}
		c.String(http.StatusOK, "welcome %s", s.Principal())
	})
	r.GET("/get", func(c *gin.Context) {
		v, _ := sessionkit.Get[string](ginsession.Default(c), c.Query("k"))
		c.String(http.StatusOK, "%s", v)
	})
	return r
}

// The cookie set at login, with a body written after the session write,
// reaches the client, and the next request with it finds the session.
func TestLoginSetsTheCookie(t *testing.T) {
	r := newEngine(webtest.NewManager(t, sessionkit.Config{}))
	cookie := webtest.Login(t, r, "alice")
	r.GET("/who", func(c *gin.Context) { c.String(http.StatusOK, "%s", ginsession.Default(c).Principal()) })
	if got := webtest.Serve(r, "/who", cookie).Body.String(); got != "alice" {
		t.Fatalf("second request sees principal %q, want alice", got)
	}
}

// A handler that writes nothing: gin writes the header after the handlers
// return (WriteHeaderNow), which is after the Manager's commit, so the
// cookie goes out with it.
func TestNoBodyCommitsBeforeGinSendsTheHeader(t *testing.T) {
	r := newEngine(webtest.NewManager(t, sessionkit.Config{}))
	r.POST("/theme", func(c *gin.Context) {
		ginsession.Default(c).Set("theme", "dark")
		c.Status(http.StatusNoContent)
	})
	req := httptest.NewRequest("POST", "/theme", nil)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	cookie := webtest.Cookies(w.Result())
	if w.Code != http.StatusNoContent || cookie == "" {
		t.Fatalf("got %d with cookie %q, want 204 with the session's cookie", w.Code, cookie)
	}
	if got := webtest.Serve(r, "/get?k=theme", cookie).Body.String(); got != "dark" {
		t.Fatalf("the session holds %q, want dark", got)
	}
}

// The case: a middleware that only sets c.Request and calls c.Next
// sends the header before the commit, so the cookie never leaves and a
// write after the body is lost without an error. Middleware sends the
// cookie and refuses the late write.
func TestObviousAdapterLostTheCookie(t *testing.T) {
	m := webtest.NewManager(t, sessionkit.Config{})
	obvious := func(c *gin.Context) {
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
	}
	for _, tc := range []struct {
		name       string
		middleware gin.HandlerFunc
		wantCookie bool
	}{
		{"Obvious", obvious, false},
		{"Middleware", ginsession.Middleware(m), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lateErr error
			r := gin.New()
			r.Use(tc.middleware)
			r.GET("/", func(c *gin.Context) {
				s := sessionkit.FromContext(c.Request.Context())
				if err := s.Set("user", "alice"); err != nil {
					t.Errorf("Set before the body: %v", err)
				}
				c.String(http.StatusOK, "hello")
				lateErr = s.Set("theme", "dark")
			})
			w := webtest.Serve(r, "/", "")
			if got := webtest.Cookies(w.Result()) != ""; got != tc.wantCookie {
				t.Fatalf("Set-Cookie sent: %t, want %t; header %v", got, tc.wantCookie, w.Result().Header)
			}
			if got := errors.Is(lateErr, sessionkit.ErrCommitted); got != tc.wantCookie {
				t.Fatalf("write after the body: %v; ErrCommitted: %t, want %t", lateErr, got, tc.wantCookie)
			}
		})
	}
}

// A session write after the body was written returns ErrCommitted, and
// nothing of it is kept; c.Status alone sends nothing, so a write after it
// still counts.
func TestWriteAfterBodyIsErrCommitted(t *testing.T) {
	r := newEngine(webtest.NewManager(t, sessionkit.Config{}))
	errs := make(map[string]error)
	r.GET("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "body")
		errs["late"] = ginsession.Default(c).Set("k", "late")
	})
	r.GET("/status", func(c *gin.Context) {
		c.Status(http.StatusCreated)
		errs["status"] = ginsession.Default(c).Set("k", "after status")
		c.Writer.WriteHeaderNow()
		errs["now"] = ginsession.Default(c).Set("k", "after WriteHeaderNow")
	})

	w := webtest.Serve(r, "/late", "")
	if !errors.Is(errs["late"], sessionkit.ErrCommitted) {
		t.Fatalf("Set after the body: %v, want ErrCommitted", errs["late"])
	}
	if c := webtest.Cookies(w.Result()); c != "" {
		t.Fatalf("a refused write made a session: %s", c)
	}

	w = webtest.Serve(r, "/status", "")
	if errs["status"] != nil {
		t.Fatalf("Set after c.Status: %v, want nil", errs["status"])
	}
	if !errors.Is(errs["now"], sessionkit.ErrCommitted) {
		t.Fatalf("Set after WriteHeaderNow: %v, want ErrCommitted", errs["now"])
	}
	if w.Code != http.StatusCreated {
		t.Fatalf("status %d, want 201", w.Code)
	}
	if got := webtest.Serve(r, "/get?k=k", webtest.Cookies(w.Result())).Body.String(); got != "after status" {
		t.Fatalf("the session holds %q, want the write made after c.Status", got)
	}
}

// Streaming: a Flush of the header alone carries the session's cookie, and
// with c.Stream the first chunk reaches the client while the handler waits
// to send the second.
func TestStreamFlushes(t *testing.T) {
	m := webtest.NewManager(t, sessionkit.Config{})
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	second := make(chan struct{})
	lateErr := make(chan error, 1)
	r.GET("/stream", func(c *gin.Context) {
		if err := ginsession.Default(c).Set("stream", "on"); err != nil {
			c.AbortWithError(sessionkit.ErrorStatus(err), err)
			return
		}
		c.Header("Content-Type", "text/event-stream")
		c.Writer.Flush() // the header alone, as a server-sent events handler does
		chunk := 0
		c.Stream(func(w io.Writer) bool {
			chunk++
			if chunk == 1 {
				io.WriteString(w, "first;")
				return true
			}
			<-second
			lateErr <- ginsession.Default(c).Set("stream", "off")
			io.WriteString(w, "second")
			return false
		})
	})
	r.GET("/get", func(c *gin.Context) {
		v, _ := sessionkit.Get[string](ginsession.Default(c), "stream")
		c.String(http.StatusOK, "%s", v)
	})
	srv := httptest.NewServer(r)
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

	req, _ = http.NewRequestWithContext(ctx, "GET", srv.URL+"/get", nil)
	req.Header.Set("Cookie", cookie)
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "on" {
		t.Fatalf("the session holds %q, want on", b)
	}
}

// A WebSocket upgrade through Middleware completes, the handler reads its
// session inside the WebSocket exchange, and a session written before the
// upgrade sends its cookie with the 101.
func TestWebSocket(t *testing.T) {
	m := webtest.NewManager(t, sessionkit.Config{})
	r := newEngine(m)
	r.GET("/ws", func(c *gin.Context) {
		s := ginsession.Default(c)
		if err := s.Set("ws", "opened"); err != nil {
			c.AbortWithError(sessionkit.ErrorStatus(err), err)
			return
		}
		conn, err := websocket.Accept(c.Writer, c.Request, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.CloseNow()
		ctx := c.Request.Context()
		_, msg, err := conn.Read(ctx)
		if err != nil {
			t.Errorf("server read: %v", err)
			return
		}
		user := s.Principal() // the session, read inside the WebSocket exchange
		ws, _ := sessionkit.Get[string](s, "ws")
		if err := conn.Write(ctx, websocket.MessageText, []byte(user+" "+ws+": "+string(msg))); err != nil {
			t.Errorf("server write: %v", err)
			return
		}
		conn.Close(websocket.StatusNormalClosure, "")
	})
	srv := httptest.NewServer(r)
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
		reply, _ := exchange(t, webtest.Login(t, srv.Config.Handler, "alice"))
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
		if got := webtest.Serve(r, "/get?k=ws", cookie).Body.String(); got != "opened" {
			t.Fatalf("the session written before the upgrade holds %q", got)
		}
	})
}

// Hijacking the connection commits the session first: a write after it
// returns ErrCommitted.
func TestHijackCommits(t *testing.T) {
	r := newEngine(webtest.NewManager(t, sessionkit.Config{}))
	lateErr := make(chan error, 1)
	r.GET("/raw", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Set("k", "v")
		conn, brw, err := c.Writer.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		lateErr <- s.Set("k", "after hijack")
		brw.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		brw.Flush()
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/raw", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want the hijacker's 204", resp.StatusCode)
	}
	if err := <-lateErr; !errors.Is(err, sessionkit.ErrCommitted) {
		t.Fatalf("Set after Hijack: %v, want ErrCommitted", err)
	}
}

// A middleware before Middleware sees gin's status and size after c.Next,
// and the session the handler used.
func TestOuterMiddlewareSeesStatusAndSession(t *testing.T) {
	m := webtest.NewManager(t, sessionkit.Config{})
	var status, size int
	var user string
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		status, size = c.Writer.Status(), c.Writer.Size()
		user = ginsession.Default(c).Principal()
	})
	r.Use(ginsession.Middleware(m))
	r.GET("/login", func(c *gin.Context) {
		ginsession.Default(c).SetPrincipal("alice")
		c.String(http.StatusAccepted, "12345")
	})
	w := webtest.Serve(r, "/login", "")
	if w.Code != http.StatusAccepted || webtest.Cookies(w.Result()) == "" {
		t.Fatalf("login: %d, header %v", w.Code, w.Header())
	}
	if status != http.StatusAccepted || size != 5 || user != "alice" {
		t.Fatalf("outer middleware saw status %d, size %d, principal %q; want 202, 5, alice", status, size, user)
	}
}

// A commit that fails answers with the Manager's error response, which
// gin's bookkeeping records, and the handler's own write fails.
func TestCommitFailure(t *testing.T) {
	m := webtest.NewManager(t, sessionkit.Config{MaxSize: 16})
	var status int
	var writeErr error
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		status = c.Writer.Status()
	})
	r.Use(ginsession.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		ginsession.Default(c).Set("big", strings.Repeat("x", 100))
		_, writeErr = c.Writer.WriteString("never sent")
	})
	w := webtest.Serve(r, "/", "")
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "never sent") || webtest.Cookies(w.Result()) != "" {
		t.Fatalf("got %d %q, cookie %q; want the Manager's 500 alone", w.Code, w.Body, webtest.Cookies(w.Result()))
	}
	if !errors.Is(writeErr, sessionkit.ErrTooLarge) || status != http.StatusInternalServerError {
		t.Fatalf("handler's write: %v, outer middleware saw %d; want ErrTooLarge and 500", writeErr, status)
	}
}

// A handler that panics commits nothing: gin's Recovery answers 500
// without the session's cookie, as a panic behind Manager.Handler does.
func TestPanicCommitsNothing(t *testing.T) {
	m := webtest.NewManager(t, sessionkit.Config{})
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard))
	r.Use(ginsession.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		ginsession.Default(c).Set("user", "alice")
		panic("handler failed")
	})
	w := webtest.Serve(r, "/", "")
	if w.Code != http.StatusInternalServerError || webtest.Cookies(w.Result()) != "" {
		t.Fatalf("got %d, cookie %q; want 500 and no cookie", w.Code, webtest.Cookies(w.Result()))
	}
}

// Default finds the session of the Manager the middleware was made with,
// the innermost one behind two, and that of a Manager.Handler around the
// whole engine.
func TestDefault(t *testing.T) {
	app := webtest.NewManager(t, sessionkit.Config{Transport: &sessionkit.CookieTransport{Name: "app"}})
	admin := webtest.NewManager(t, sessionkit.Config{Transport: &sessionkit.CookieTransport{Name: "admin"}})
	r := gin.New()
	r.Use(ginsession.Middleware(app), ginsession.Middleware(admin))
	r.GET("/", func(c *gin.Context) {
		ctx := c.Request.Context()
		if ginsession.Default(c) != admin.FromContext(ctx) || app.FromContext(ctx) == nil || app.FromContext(ctx) == admin.FromContext(ctx) {
			t.Error("Default is not the innermost Manager's session, or a Manager's session is missing")
		}
	})
	webtest.Serve(r, "/", "")

	around := gin.New()
	around.GET("/", func(c *gin.Context) {
		if s := ginsession.Default(c); s == nil || s != app.FromContext(c.Request.Context()) {
			t.Error("Default does not find the session of a Manager.Handler around the engine")
		}
	})
	webtest.Serve(app.Handler(around), "/", "")

	none := gin.New()
	none.GET("/", func(c *gin.Context) {
		if err := ginsession.Default(c).Set("k", "v"); !errors.Is(err, sessionkit.ErrNoSession) {
			t.Errorf("Set without a Manager: %v, want ErrNoSession", err)
		}
	})
	webtest.Serve(none, "/", "")
}
