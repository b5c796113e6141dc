package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/internal/testredis"
)

// TestCookieLogoutRefusesCopy: with a store for its counters, the cookie
// strategy's logout ends the session on the server, so a copy of the
// sealed cookie taken before the logout no longer logs in.
func TestCookieLogoutRefusesCopy(t *testing.T) {
	stores := map[string][]string{
		"sqlite": {"--sqlite", filepath.Join(t.TempDir(), "generations.db")},
		"redis":  {"--redis", testredis.Start(t).URL()},
	}
	for name, args := range stores {
		t.Run(name, func(t *testing.T) {
			t.Setenv("SESSIONKIT_COOKIE_KEYS", cookiestore.GenerateKey())
			urls := startNodes(t, 1, append([]string{"--store", "cookie"}, args...)...)
			c := newClient(t, urls[0])
			if code, v := c.call("POST", "/api/login", `{"user":"ada"}`); code != 200 || v.User != "ada" {
				t.Fatalf("login: %d %+v", code, v)
			}
			u, _ := url.Parse(urls[0])
			copied, _ := cookiejar.New(nil)
			copied.SetCookies(u, c.http.Jar.Cookies(u))
			thief := &client{t: t, base: urls[0], http: &http.Client{Jar: copied, Timeout: 10 * time.Second}}
			if _, v := thief.call("GET", "/api/session", ""); v.User != "ada" {
				t.Fatalf("the copy does not open before the logout: %+v", v)
			}
			if code, _ := c.call("POST", "/api/logout", ""); code != 200 {
				t.Fatalf("logout: %d", code)
			}
			if code, v := thief.call("GET", "/api/session", ""); code != 200 || v.User != "" {
				t.Fatalf("after the logout the copied cookie still logs in: %d %+v", code, v)
			}
		})
	}
}
