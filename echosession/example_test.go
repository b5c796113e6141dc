package echosession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/echosession"
	"github.com/sessionkit/sessionkit/memstore"
)

// Login, a counter and logout on echo. The requests below stand for a
// browser, which sends back the cookie it was given.
func Example() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.Use(echosession.Middleware(mgr))
	e.POST("/login", func(c echo.Context) error {
		s := echosession.Get(c)
		if err := s.SetPrincipal(c.FormValue("user")); err != nil { // renews the token
			return echo.NewHTTPError(sessionkit.ErrorStatus(err)).SetInternal(err)
		}
		return c.String(http.StatusOK, "welcome "+s.Principal())
	})
	e.POST("/count", func(c echo.Context) error {
		s := echosession.Get(c)
		n, _ := sessionkit.Get[int](s, "count")
		if err := s.Set("count", n+1); err != nil {
			return echo.NewHTTPError(sessionkit.ErrorStatus(err)).SetInternal(err)
		}
		return c.String(http.StatusOK, fmt.Sprintf("%s has counted to %d", s.Principal(), n+1))
	})
	e.POST("/logout", func(c echo.Context) error {
		echosession.Get(c).Destroy()
		return c.String(http.StatusOK, "bye")
	})

	var cookie *http.Cookie
	post := func(path, form string) {
		req := httptest.NewRequest("POST", path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
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
