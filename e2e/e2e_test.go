// Package e2e drives the sessionkit binary as users run it: real child
// processes on loopback, real HTTP. make test builds the binary once and
// passes it in SESSIONKIT_BIN.
package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

var nodeBanner = regexp.MustCompile(`^node (\S+): (http://\S+) pid (\d+)$`)

// binary returns the binary under test, failing when it is missing.
func binary(t *testing.T) string {
	t.Helper()
	bin, err := proc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// start starts the binary with args and returns it; it is killed at the
// end of the test.
func start(t *testing.T, args ...string) *proc.Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := proc.Start(ctx, nil, binary(t), args...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-p.Done()
	})
	return p
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

type view struct {
	Node  string   `json:"node"`
	User  string   `json:"user"`
	Cart  []string `json:"cart"`
	Error string   `json:"error"`
}

func (c *client) call(method, path, body string) (int, view) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var v view
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		c.t.Fatalf("%s %s: %d, not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, v
}

// TestDemo runs `sessionkit demo` as a user does, shops, and stops it with
// SIGINT: it exits cleanly.
func TestDemo(t *testing.T) {
	p := start(t, "demo", "--listen", "127.0.0.1:0")
	m, err := p.Expect(nodeBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, m[2])
	if code, v := c.call("POST", "/api/login", `{"user":"ada"}`); code != 200 || v.User != "ada" {
		t.Fatalf("login: %d %+v", code, v)
	}
	c.call("POST", "/api/cart", `{"item":"book"}`)
	if code, v := c.call("GET", "/api/session", ""); code != 200 || v.Node != "n1" || len(v.Cart) != 1 {
		t.Fatalf("session: %d %+v", code, v)
	}
	if code, v := c.call("POST", "/api/cart", `{"item":`); code != 400 || v.Error == "" {
		t.Fatalf("bad JSON: %d %+v", code, v)
	}
	p.Signal(syscall.SIGINT)
	select {
	case <-p.Done():
		if p.Err() != nil {
			t.Fatalf("demo exited with %v; output:\n%s", p.Err(), p.Output())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not exit within 15 s of SIGINT")
	}
}
