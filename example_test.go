package sessionkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

func Example() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		s.SetPrincipal("alice") // renews the token: no session fixation
		s.Set("theme", "dark")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		theme, _ := sessionkit.Get[string](s, "theme")
		fmt.Fprintf(w, "hello %s, theme %s", s.Principal(), theme)
	})

	login := httptest.NewRecorder()
	mgr.Handler(mux).ServeHTTP(login, httptest.NewRequest("POST", "/login", nil))
	cookie := login.Result().Cookies()[0]
	fmt.Println(cookie.Name, cookie.HttpOnly, cookie.Secure)

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	page := httptest.NewRecorder()
	mgr.Handler(mux).ServeHTTP(page, r)
	fmt.Println(page.Body.String())
	// Output:
	// __Host-session true true
	// hello alice, theme dark
}

func ExampleSession_Update() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, _ := sessionkit.New(store, sessionkit.Config{})
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Concurrent requests appending to one cart never lose an item.
		err := sessionkit.FromContext(r.Context()).Update("cart", func(old any, ok bool) (any, error) {
			items, _ := old.([]string)
			return append(items, r.URL.Query().Get("item")), nil
		})
		if err != nil {
			http.Error(w, err.Error(), sessionkit.ErrorStatus(err))
			return
		}
		items, _ := sessionkit.Get[[]string](sessionkit.FromContext(r.Context()), "cart")
		fmt.Fprint(w, items)
	}))
	var cookie *http.Cookie
	for _, item := range []string{"book", "pen"} {
		r := httptest.NewRequest("POST", "/cart?item="+item, nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if c := w.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
		fmt.Println(w.Body.String())
	}
	// Output:
	// [book]
	// [book pen]
}

// The Manager's cache headers: a page built from a session varies on the
// cookie, and a response that sets the cookie is never stored by a cache.
func Example_cacheHeaders() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, _ := sessionkit.New(store, sessionkit.Config{})
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		if r.Method == "POST" {
			s.SetPrincipal("alice")
			return
		}
		fmt.Fprint(w, "hello ", s.Principal())
	}))
	login := httptest.NewRecorder()
	h.ServeHTTP(login, httptest.NewRequest("POST", "/login", nil))
	fmt.Println("login:", login.Header().Get("Vary"), login.Header().Get("Cache-Control"))

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(login.Result().Cookies()[0])
	page := httptest.NewRecorder()
	h.ServeHTTP(page, r)
	fmt.Printf("page: %s, Cache-Control %q\n", page.Header().Get("Vary"), page.Header().Get("Cache-Control"))
	// Output:
	// login: Cookie no-store
	// page: Cookie, Cache-Control ""
}
