package cookiestore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
)

func Example() {
	// In production the keys come from configuration, for example
	// cookiestore.ParseKeys(os.Getenv("SESSIONKIT_COOKIE_KEYS")).
	keys, err := cookiestore.ParseKeys(cookiestore.GenerateKey())
	if err != nil {
		panic(err)
	}
	transport := &sessionkit.CookieTransport{}
	store, err := cookiestore.New(cookiestore.Config{
		Keys:        keys,
		Name:        transport.CookieName(),
		MaxTokenLen: transport.MaxTokenLen(),
	})
	if err != nil {
		panic(err)
	}
	mgr, err := sessionkit.New(store, sessionkit.Config{Transport: transport})
	if err != nil {
		panic(err)
	}
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		if r.URL.Path == "/login" {
			s.SetPrincipal("alice")
			s.Set("theme", "dark")
			return
		}
		theme, _ := sessionkit.Get[string](s, "theme")
		fmt.Fprintf(w, "hello %s, theme %s", s.Principal(), theme)
	}))

	login := httptest.NewRecorder()
	h.ServeHTTP(login, httptest.NewRequest("POST", "/login", nil))
	cookie := login.Result().Cookies()[0]
	fmt.Println(cookie.Name, len(cookie.Value) < 200)

	// Any node holding the keys serves the next request: no server state.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	page := httptest.NewRecorder()
	h.ServeHTTP(page, r)
	fmt.Println(page.Body.String())
	// Output:
	// __Host-session true
	// hello alice, theme dark
}

func ExampleParseKeys() {
	// Step 1 of a rotation: the new key opens, the old one still seals.
	keys, err := cookiestore.ParseKeys("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f," +
		"open:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA")
	fmt.Println(len(keys), keys[1].OpenOnly, err)

	_, err = cookiestore.ParseKeys("0001020304050607")
	fmt.Println(err)
	// Output:
	// 2 true <nil>
	// key 1: cookiestore: bad key: 8 bytes, want 32 (64 hex digits or 43 base64 characters)
}
