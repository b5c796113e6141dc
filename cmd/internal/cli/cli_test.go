package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proctest"
)

// startCommand runs args in the background and returns the URL of the
// banner line it prints ("node NAME: URL pid PID"), and a stop function
// that ends it and returns its exit code.
func startCommand(t *testing.T, args ...string) (url string, stop func() int) {
	t.Helper()
	url, _, _, stop = startNode(t, args...)
	return url, stop
}

// startNode runs a node command like startCommand and also returns its
// admin API's URL and token, from the line after the banner.
func startNode(t *testing.T, args ...string) (url, admin, token string, stop func() int) {
	t.Helper()
	url, admin, token, _, stop = startNodeLog(t, args...)
	return url, admin, token, stop
}

// startNodeLog runs a node command like startNode and also returns what
// it writes to stderr, its log.
func startNodeLog(t *testing.T, args ...string) (url, admin, token string, log *proctest.Buffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &proctest.Buffer{}
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, args, pw, stderr)
		pw.Close()
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	banner := regexp.MustCompile(`^node (\S+): (http://\S+) pid (\d+)$`)
	select {
	case line, ok := <-lines:
		m := banner.FindStringSubmatch(line)
		if !ok || m == nil {
			cancel()
			t.Fatalf("no banner; got %q; stderr: %s", line, stderr.String())
		}
		url = m[2]
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("no banner within 10 s; stderr: %s", stderr.String())
	}
	adminBanner := regexp.MustCompile(`^node (\S+) admin: (http://\S+) token (\S+)$`)
	select {
	case line := <-lines:
		m := adminBanner.FindStringSubmatch(line)
		if m == nil {
			cancel()
			t.Fatalf("no admin banner; got %q; stderr: %s", line, stderr.String())
		}
		admin, token = m[2], m[3]
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("no admin banner within 10 s; stderr: %s", stderr.String())
	}
	go func() {
		for range lines {
		}
	}()
	var once sync.Once
	result := 0
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case result = <-code:
			case <-time.After(15 * time.Second):
				t.Error("the command did not stop within 15 s")
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return url, admin, token, stderr, stop
}

type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// call sends a JSON API request and decodes the answer.
func (c *client) call(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		c.t.Fatalf("%s %s: status %d, body not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, v
}

func TestNodeJSONAPI(t *testing.T) {
	url, admin, token, stop := startNode(t, "node", "--listen", "127.0.0.1:0", "--name", "n7", "--dev")
	c := newClient(t, url)

	code, v := c.call("GET", "/api/session", "")
	if code != 200 || v["node"] != "n7" || v["strategy"] != "memory" || v["user"] != "" {
		t.Fatalf("anonymous view: %d %v", code, v)
	}
	code, v = c.call("POST", "/api/login", `{"user":"alice"}`)
	if code != 200 || v["user"] != "alice" {
		t.Fatalf("login: %d %v", code, v)
	}
	for _, item := range []string{"book", "pen"} {
		if code, v = c.call("POST", "/api/cart", `{"item":"`+item+`"}`); code != 200 {
			t.Fatalf("cart: %d %v", code, v)
		}
	}
	code, v = c.call("GET", "/api/session", "")
	if cart, _ := v["cart"].([]any); code != 200 || v["user"] != "alice" || len(cart) != 2 || cart[1] != "pen" {
		t.Fatalf("session after cart: %d %v", code, v)
	}

	// A second device of alice's, then log out everywhere from the first.
	other := newClient(t, url)
	other.call("POST", "/api/login", `{"user":"alice"}`)
	if code, _ = c.call("POST", "/api/logout-everywhere", ""); code != 200 {
		t.Fatalf("logout-everywhere: %d", code)
	}
	for name, cl := range map[string]*client{"this": c, "other": other} {
		if _, v = cl.call("GET", "/api/session", ""); v["user"] != "" {
			t.Fatalf("%s device still logged in: %v", name, v)
		}
	}

	c.call("POST", "/api/login", `{"user":"bob"}`)
	if code, v = c.call("POST", "/api/logout", ""); code != 200 || v["user"] != "" {
		t.Fatalf("logout: %d %v", code, v)
	}

	for _, bad := range []string{`{"user":`, `{"user":"x","admin":true}`, `[1]`, `{"user":"a"} {"user":"b"}`, `{"user":""}`} {
		code, v = c.call("POST", "/api/login", bad)
		if code != 400 || v["error"] == "" {
			t.Fatalf("bad body %q: %d %v", bad, code, v)
		}
	}

	get := func(u, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		if code, body := get(url+path, ""); code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s: %d, no %q", path, code, want)
		}
	}
	// The metrics are on the admin listener, behind its token, not on
	// the shop's.
	if code, _ := get(url+"/metrics", ""); code != http.StatusNotFound {
		t.Fatalf("/metrics on the shop's listener: %d, want 404", code)
	}
	if code, _ := get(admin+"/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", code)
	}
	if code, body := get(admin+"/metrics", token); code != 200 || !strings.Contains(body, "sessionkit_store_operations_total") {
		t.Fatalf("/metrics on the admin listener: %d, no sessionkit_store_operations_total", code)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestShopPages(t *testing.T) {
	url, _ := startCommand(t, "node", "--listen", "127.0.0.1:0", "--dev")
	c := newClient(t, url)
	post := func(path, form string) string {
		resp, err := c.http.Post(url+path, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	page := post("/login", "user=carol")
	if !strings.Contains(page, `id="user">carol<`) || !strings.Contains(page, "Welcome, carol.") {
		t.Fatalf("page after login:\n%s", page)
	}
	page = post("/cart", "item=<script>")
	if !strings.Contains(page, "&lt;script&gt;") || strings.Contains(page, "<li><script>") {
		t.Fatal("the cart item was not escaped")
	}
	page = post("/checkout", "")
	if !strings.Contains(page, `id="orders">1<`) || !strings.Contains(page, "Order placed: 1 items.") {
		t.Fatalf("page after checkout:\n%s", page)
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Usage") {
		t.Fatalf("no args: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"nope"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: %d", code)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"node", "--store", "nope", "--listen", "127.0.0.1:0"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "unknown store") {
		t.Fatalf("unknown store: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"node", "--bogus"}, &out, &errb); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
}

func TestRingSimulate(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"ring", "simulate", "--algo", "ring", "--nodes", "10", "--keys", "20000", "--replicas", "1"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "100") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
}
