package examples_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// visit sends the requests in order through one client with a cookie jar
// and prints each response's body.
func visit(h http.Handler, requests ...string) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for _, r := range requests {
		var method, path string
		fmt.Sscan(r, &method, &path)
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %s: %s\n", method, path, body)
	}
}

// chi takes net/http middleware: r.Use(mgr.Handler) gives every route its
// session.
func Example_chi() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	// Insecure: this example serves plain HTTP on loopback.
	mgr, err := sessionkit.New(store, sessionkit.Config{Transport: &sessionkit.CookieTransport{Insecure: true}})
	if err != nil {
		panic(err)
	}

	r := chi.NewRouter()
	r.Use(mgr.Handler)
	r.Post("/login/{user}", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.FromContext(r.Context()).SetPrincipal(chi.URLParam(r, "user")); err != nil {
			http.Error(w, err.Error(), sessionkit.ErrorStatus(err))
			return
		}
		fmt.Fprint(w, "logged in")
	})
	r.Post("/count", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		n, _ := sessionkit.Get[int](s, "count")
		s.Set("count", n+1)
		fmt.Fprintf(w, "%s: %d", s.Principal(), n+1)
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Destroy()
		fmt.Fprint(w, "logged out")
	})

	visit(r, "POST /login/alice", "POST /count", "POST /count", "POST /logout", "POST /count")
	// Output:
	// POST /login/alice: logged in
	// POST /count: alice: 1
	// POST /count: alice: 2
	// POST /logout: logged out
	// POST /count: : 1
}

// With the standard library's ServeMux, the Manager wraps the mux.
func Example_serveMux() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{Transport: &sessionkit.CookieTransport{Insecure: true}})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/{user}", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.FromContext(r.Context()).SetPrincipal(r.PathValue("user")); err != nil {
			http.Error(w, err.Error(), sessionkit.ErrorStatus(err))
			return
		}
		fmt.Fprint(w, "logged in")
	})
	mux.HandleFunc("POST /count", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		n, _ := sessionkit.Get[int](s, "count")
		s.Set("count", n+1)
		fmt.Fprintf(w, "%s: %d", s.Principal(), n+1)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Destroy()
		fmt.Fprint(w, "logged out")
	})

	visit(mgr.Handler(mux), "POST /login/bob", "POST /count", "POST /logout", "POST /count")
	// Output:
	// POST /login/bob: logged in
	// POST /count: bob: 1
	// POST /logout: logged out
	// POST /count: : 1
}
