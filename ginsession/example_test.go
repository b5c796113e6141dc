package ginsession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/ginsession"
	"github.com/sessionkit/sessionkit/memstore"
)

// Login, a counter and logout on gin. The requests below stand for a
// browser, which sends back the cookie it was given.
func Example() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		panic(err)
	}

	r := gin.New()
	r.Use(ginsession.Middleware(mgr))
	r.POST("/login", func(c *gin.Context) {
		s := ginsession.Default(c)
		if err := s.SetPrincipal(c.PostForm("user")); err != nil { // renews the token
			c.AbortWithError(sessionkit.ErrorStatus(err), err)
			return
		}
		c.String(http.StatusOK, "welcome %s", s.Principal())
	})
	r.POST("/count", func(c *gin.Context) {
		s := ginsession.Default(c)
		n, _ := sessionkit.Get[int](s, "count")
		if err := s.Set("count", n+1); err != nil {
			c.AbortWithError(sessionkit.ErrorStatus(err), err)
			return
		}
		c.String(http.StatusOK, "%s has counted to %d", s.Principal(), n+1)
	})
	r.POST("/logout", func(c *gin.Context) {
		ginsession.Default(c).Destroy()
		c.String(http.StatusOK, "bye")
	})

	var cookie *http.Cookie
	post := func(path, form string) {
		req := httptest.NewRequest("POST", path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		for _, c := range w.Result().Cookies() {
			cookie = c
			if c.MaxAge < 0 {
				cookie = nil // logged out: the browser drops the cookie
			}
		}
		fmt.Printf("%s: %s (cookie kept: %t)\n", path, w.Body, cookie != nil)
	}
	post("/login", "user=alice")
	post("/count", "")
	post("/count", "")
	post("/logout", "")
	// Output:
	// /login: welcome alice (cookie kept: true)
	// /count: alice has counted to 1 (cookie kept: true)
	// /count: alice has counted to 2 (cookie kept: true)
	// /logout: bye (cookie kept: false)
}
