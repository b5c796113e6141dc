// Package webtest holds what the tests of a Manager share, in every
// module: the pages they visit and a browser's cookie jar.
package webtest

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// Handlers are the pages the Manager's tests visit, by path: /set?k=&v=,
// /get?k=, /none (touches no session), /login?u=, /destroy, /append?v=
// (an atomic update of the cart) and /cart (its length).
var Handlers = map[string]http.HandlerFunc{
	"/set": func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		if err := s.Set(r.URL.Query().Get("k"), r.URL.Query().Get("v")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "ok")
	},
	"/get": func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.FromContext(r.Context()), r.URL.Query().Get("k"))
		io.WriteString(w, v)
	},
	"/none": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "untouched") },
	"/login": func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.FromContext(r.Context()).SetPrincipal(r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), 500)
		}
	},
	"/destroy": func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Destroy()
	},
	"/append": func(w http.ResponseWriter, r *http.Request) {
		err := sessionkit.FromContext(r.Context()).Update("cart", func(old any, ok bool) (any, error) {
			items, _ := old.([]string)
			return append(items, r.URL.Query().Get("v")), nil
		})
		if err != nil {
			http.Error(w, err.Error(), sessionkit.ErrorStatus(err))
		}
	},
	"/cart": func(w http.ResponseWriter, r *http.Request) {
		items, _ := sessionkit.Get[[]string](sessionkit.FromContext(r.Context()), "cart")
		fmt.Fprint(w, len(items))
	},
}

// Mux serves Handlers by path.
func Mux() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { Handlers[r.URL.Path](w, r) }
}

// Jar is a browser's cookies, by name.
type Jar map[string]string

// Header returns the Cookie header the browser sends.
func (j Jar) Header() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(j)) {
		parts = append(parts, k+"="+j[k])
	}
	return strings.Join(parts, "; ")
}

// Update returns the jar after a response's Set-Cookie headers, applied as
// a browser does.
func (j Jar) Update(w *httptest.ResponseRecorder) Jar {
	n := maps.Clone(j)
	if n == nil {
		n = Jar{}
	}
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(n, c.Name)
		} else {
			n[c.Name] = c.Value
		}
	}
	return n
}

// NewManager returns a Manager on a memory store that the test closes,
// with cfg (its Logger set to discard everything).
func NewManager(t testing.TB, cfg sessionkit.Config) *sessionkit.Manager {
	t.Helper()
	store := memstore.New(memstore.Config{})
	t.Cleanup(func() { store.Close() })
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := sessionkit.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Serve runs one GET of target through h, with the Cookie header given,
// and returns the response.
func Serve(h http.Handler, target, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", target, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// Cookies returns the Cookie header a browser sends after resp's
// Set-Cookie lines.
func Cookies(resp *http.Response) string {
	var parts []string
	for _, c := range resp.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// Login logs in as user on h, whose page /login?u= sets the principal
// and answers "welcome USER", and returns the session's Cookie header.
func Login(t testing.TB, h http.Handler, user string) string {
	t.Helper()
	w := Serve(h, "/login?u="+user, "")
	if w.Code != http.StatusOK || w.Body.String() != "welcome "+user {
		t.Fatalf("login: %d %q", w.Code, w.Body)
	}
	c := Cookies(w.Result())
	if c == "" {
		t.Fatalf("login set no cookie; header %v", w.Header())
	}
	return c
}
