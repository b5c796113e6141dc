package sessionkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// TestTwoManagersOnOneRequest: an application's Manager and an
// administrator's, each with its own cookie, wrap one handler; each keeps
// its own session, Manager.FromContext finds each, and the package-level
// FromContext the innermost.
func TestTwoManagersOnOneRequest(t *testing.T) {
	newManager := func(name string) *sessionkit.Manager {
		store := memstore.New(memstore.Config{})
		t.Cleanup(func() { store.Close() })
		m, err := sessionkit.New(store, sessionkit.Config{Logger: discard, Transport: &sessionkit.CookieTransport{Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	app, admin := newManager("app"), newManager("admin")
	h := app.Handler(admin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, b := app.FromContext(r.Context()), admin.FromContext(r.Context())
		if sessionkit.FromContext(r.Context()) != b {
			fmt.Fprint(w, "FromContext is not the innermost Manager's session;")
		}
		if r.URL.Path == "/set" {
			a.Set("who", "app")
			b.Set("who", "admin")
			return
		}
		av, _ := sessionkit.Get[string](a, "who")
		bv, _ := sessionkit.Get[string](b, "who")
		fmt.Fprintf(w, "%s %s", av, bv)
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/set", nil))
	var cookies []string
	for _, c := range w.Result().Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) != 2 {
		t.Fatalf("cookies %v, want one per Manager", cookies)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", strings.Join(cookies, "; "))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Body.String(); got != "app admin" {
		t.Fatalf("got %q, want each Manager's own value", got)
	}
	if s := app.FromContext(r.Context()); s != nil {
		t.Fatal("Manager.FromContext outside its Handler is not nil")
	}
}
