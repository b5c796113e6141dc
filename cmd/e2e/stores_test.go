package e2e

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/redistest"
)

// startNodes starts shop nodes with the given store arguments and returns
// their URLs.
func startNodes(t *testing.T, n int, args ...string) []string {
	var urls []string
	for i := 1; i <= n; i++ {
		port, _ := proc.FreePort()
		a := append([]string{"node", "--name", fmt.Sprintf("n%d", i), "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--dev"}, args...)
		p := start(t, a...)
		m, err := p.Expect(nodeBanner, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, m[2])
	}
	return urls
}

// sharedAcrossNodes logs in on the first node and checks that every other
// node serves the same session with the same cookie.
func sharedAcrossNodes(t *testing.T, urls []string) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	first := &client{t: t, base: urls[0], http: hc}
	first.call("POST", "/api/login", `{"user":"ada"}`)
	first.call("POST", "/api/cart", `{"item":"engine"}`)
	u0, _ := url.Parse(urls[0])
	for _, u := range urls[1:] {
		// The nodes share 127.0.0.1, so the jar already sends the cookie.
		other := &client{t: t, base: u, http: hc}
		code, v := other.call("GET", "/api/session", "")
		if code != 200 || v.User != "ada" || len(v.Cart) != 1 || v.Node == "n1" {
			t.Fatalf("%s (cookie from %s): %d %+v", u, u0.Host, code, v)
		}
		other.call("POST", "/api/cart", `{"item":"card"}`)
	}
	// Redis's near cache, the node's default, lets a node serve its
	// cached copy until another node's write invalidates it (bounded
	// staleness, README): the first node converges, it need not be there
	// at once.
	converges(t, "the first node's cart", func() (bool, any) {
		_, v := first.call("GET", "/api/session", "")
		return len(v.Cart) == len(urls), v.Cart
	})
	// A second device of ada's, on another node, is logged out by "log
	// out everywhere" on the first.
	device := newClient(t, urls[len(urls)-1])
	device.call("POST", "/api/login", `{"user":"ada"}`)
	if code, _ := first.call("POST", "/api/logout-everywhere", ""); code != 200 {
		t.Fatalf("logout-everywhere: %d", code)
	}
	converges(t, "the other device's logout", func() (bool, any) {
		_, v := device.call("GET", "/api/session", "")
		return v.User == "", v
	})
}

// converges asks check until it holds, and fails with check's last answer
// if it does not within 5 s, far beyond the staleness the near cache
// allows on a loaded machine.
func converges(t *testing.T, what string, check func() (bool, any)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %+v after 5 s", what, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRedisStoreShared(t *testing.T) {
	srv := redistest.Start(t)
	urls := startNodes(t, 2, "--store", "redis", "--redis", srv.URL())
	sharedAcrossNodes(t, urls)
}

func TestCookieStoreShared(t *testing.T) {
	// The principals' generations live in Redis: log out everywhere
	// works for sealed cookies too.
	srv := redistest.Start(t)
	key := cookiestore.GenerateKey()
	urls := startNodes(t, 2, "--store", "cookie", "--cookie-keys", key, "--redis", srv.URL())
	sharedAcrossNodes(t, urls)
}

func TestCookieStoreWithoutRevocation(t *testing.T) {
	urls := startNodes(t, 1, "--store", "cookie", "--cookie-keys", cookiestore.GenerateKey())
	c := newClient(t, urls[0])
	c.call("POST", "/api/login", `{"user":"ada"}`)
	if code, v := c.call("POST", "/api/logout-everywhere", ""); code != http.StatusNotImplemented || v.Error == "" {
		t.Fatalf("logout-everywhere without a revocation store: %d %+v, want 501 with a message", code, v)
	}
}
