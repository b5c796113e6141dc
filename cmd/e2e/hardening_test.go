package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/redistest"
)

// TestCookieLogoutRefusesCopy: with a store for its counters, the cookie
// strategy's logout ends the session on the server, so a copy of the
// sealed cookie taken before the logout no longer logs in.
func TestCookieLogoutRefusesCopy(t *testing.T) {
	stores := map[string][]string{
		"sqlite": {"--sqlite", filepath.Join(t.TempDir(), "generations.db")},
		"redis":  {"--redis", redistest.Start(t).URL()},
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

// startAdminNode starts one shop node with the store arguments and
// returns its URL, its admin API's URL and the admin token.
func startAdminNode(t *testing.T, args ...string) (url, admin, token string) {
	t.Helper()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, append([]string{"node", "--name", "n1", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--dev", "--log-level", "error"}, args...)...)
	m, err := p.Expect(nodeBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Expect(nodeAdminBanner, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m[2], a[2], a[3]
}

// get returns the status and body of a GET, with a bearer token if any.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestNodeEndpoints: a node's metrics are on its admin listener, behind
// its token, and not reachable through the router; /readyz answers 503
// while the node's Redis is down, while /healthz (liveness) stays 200,
// and 200 once Redis is back; the router, checking /readyz, stops
// routing to the node meanwhile.
func TestNodeEndpoints(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("SESSIONKIT_REDIS", srv.URL())
	url, admin, token := startAdminNode(t, "--store", "redis")
	r := start(t, "router", "--listen", "127.0.0.1:0", "--members", "n1="+url, "--health-path", "/readyz",
		"--health-interval", "200ms", "--access-log=false", "--log-level", "error")
	m, err := r.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	router := m[1]
	am, err := r.Expect(adminBanner, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	healthy := func() (bool, error) {
		var members []struct{ Healthy bool }
		if err := getJSON(am[1]+"/members", am[2], &members); err != nil || len(members) != 1 {
			return false, fmt.Errorf("members %v: %v", members, err)
		}
		return members[0].Healthy, nil
	}
	if err := proc.WaitFor(10*time.Second, func() error {
		if ok, err := healthy(); !ok {
			return fmt.Errorf("the router does not route to the node yet (%v)", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if code, body := get(t, router+"/metrics", ""); code != http.StatusNotFound || strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics through the router: %d\n%.200s", code, body)
	}
	if code, _ := get(t, url+"/metrics", ""); code != http.StatusNotFound {
		t.Fatalf("/metrics on the shop's listener: %d, want 404", code)
	}
	if code, _ := get(t, admin+"/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics on the admin listener without the token: %d, want 401", code)
	}
	if code, body := get(t, admin+"/metrics", token); code != 200 || !strings.Contains(body, "sessionkit_shop_requests_total") {
		t.Fatalf("/metrics on the admin listener: %d\n%.200s", code, body)
	}
	if code, _ := get(t, url+"/readyz", ""); code != 200 {
		t.Fatalf("/readyz with Redis up: %d", code)
	}

	srv.Kill()
	waitStatus(t, url+"/readyz", http.StatusServiceUnavailable, "/readyz with Redis down")
	if code, _ := get(t, url+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz (liveness) with Redis down: %d, want 200", code)
	}
	if err := proc.WaitFor(10*time.Second, func() error {
		if ok, err := healthy(); ok || err != nil {
			return fmt.Errorf("the router still routes to the node with Redis down (%v)", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	srv.Restart()
	if err := proc.WaitFor(15*time.Second, func() error {
		if code, body := get(t, url+"/readyz", ""); code != 200 {
			return fmt.Errorf("/readyz with Redis back: %d %s", code, body)
		}
		if ok, err := healthy(); !ok {
			return fmt.Errorf("the router does not route to the node again (%v)", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The service recovers on its own: a write may still meet a
	// connection of the old server's and be answered 503 once, never
	// for long.
	c := newClient(t, router)
	if err := proc.WaitFor(5*time.Second, func() error {
		resp, err := c.http.Post(c.base+"/api/login", "application/json", strings.NewReader(`{"user":"ada"}`))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"user":"ada"`) {
			return fmt.Errorf("login through the router with Redis back: %d %s", resp.StatusCode, body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitStatus waits until GET url answers code, for at most 10 s.
func waitStatus(t *testing.T, url string, code int, what string) {
	t.Helper()
	if err := proc.WaitFor(10*time.Second, func() error {
		if c, body := get(t, url, ""); c != code {
			return fmt.Errorf("%s: %d %s", what, c, body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
