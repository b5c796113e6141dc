package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
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

// TestCrossSiteLoginRefused: a form on another site that posts a login
// to the shop (login CSRF) is refused, whether the browser says so with
// Sec-Fetch-Site or only with Origin; so is the JSON API. The shop's own
// pages still log in.
func TestCrossSiteLoginRefused(t *testing.T) {
	base := startNodes(t, 1)[0]
	post := func(path, body, contentType string, header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const form, json = "application/x-www-form-urlencoded", "application/json"
	for _, c := range []struct {
		what, path, body, ctype string
		header                  map[string]string
		want                    int
	}{
		{"cross-site form login", "/login", "user=mallory", form, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"same-site (a sibling subdomain) form login", "/login", "user=mallory", form, map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"form login with a foreign Origin only", "/login", "user=mallory", form, map[string]string{"Origin": "https://evil.example"}, 403},
		{"cross-site API login", "/api/login", `{"user":"mallory"}`, json, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"API login with a foreign Origin only", "/api/login", `{"user":"mallory"}`, json, map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross-site add to cart", "/cart", "item=x", form, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"the shop's own form", "/login", "user=ada", form, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": base}, 303},
		{"the shop's own form, Origin only", "/login", "user=ada", form, map[string]string{"Origin": base}, 303},
		{"a client that is not a browser", "/api/login", `{"user":"ada"}`, json, nil, 200},
	} {
		if got := post(c.path, c.body, c.ctype, c.header); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
}
