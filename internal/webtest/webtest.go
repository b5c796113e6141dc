// Package webtest holds what the tests of a Manager share, in every
// module: the pages they visit and a browser's cookie jar.
package webtest

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/sessionkit/sessionkit"
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
