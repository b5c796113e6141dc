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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/redistest"
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
// SIGINT: it exits cleanly, and so do its children.
func TestDemo(t *testing.T) {
	p := start(t, "demo", "--listen", "127.0.0.1:0")
	m, err := p.Expect(routerBanner, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The demo names every process it runs, the router too.
	routerPid, _ := strconv.Atoi(m[2])
	if kids := children(t, p.Pid()); routerPid == 0 || !slices.Contains(kids, routerPid) {
		t.Fatalf("the demo's router line %q: pid %d is not one of the demo's children %v", m[0], routerPid, kids)
	}
	pids := []int{routerPid}
	for range 3 {
		nm, err := p.Expect(nodeBanner, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(nm[3])
		pids = append(pids, pid)
	}
	if _, err := p.Expect(regexp.MustCompile(`^admin: (\S+)$`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, m[1])
	if code, v := c.call("POST", "/api/login", `{"user":"ada"}`); code != 200 || v.User != "ada" {
		t.Fatalf("login: %d %+v", code, v)
	}
	c.call("POST", "/api/cart", `{"item":"book"}`)
	if code, v := c.call("GET", "/api/session", ""); code != 200 || v.Node == "" || len(v.Cart) != 1 {
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
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not exit within 30 s of SIGINT")
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d (the router or a node) outlived the demo", pid)
		}
	}
}

// startDemo starts `sessionkit demo` with the strategy and returns the
// shop's URL and a function that posts to its admin API.
func startDemo(t *testing.T, strategy string) (shop string, admin func(path string)) {
	args := []string{"demo", "--strategy", strategy, "--listen", "127.0.0.1:0", "--log-level", "warn"}
	if strategy == "redis" {
		args = append(args, "--redis", redistest.Start(t).URL())
	}
	p := start(t, args...)
	m, err := p.Expect(routerBanner, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	am, err := p.Expect(regexp.MustCompile(`^admin: (http://[^/]+)/\?token=(\S+)$`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m[1], func(path string) {
		t.Helper()
		req, _ := http.NewRequest("POST", am[1]+path, nil)
		req.Header.Set("Authorization", "Bearer "+am[2])
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("admin %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
}

// TestDemoKillServingNode is the demo's promise: log in, kill the node
// that served you from the admin API, and stay logged in with your cart —
// except with plain sticky sessions, which lose the killed node's users.
func TestDemoKillServingNode(t *testing.T) {
	for _, strategy := range []string{"cluster", "sticky", "cookie", "redis", "sql"} {
		t.Run(strategy, func(t *testing.T) {
			shop, admin := startDemo(t, strategy)
			c := newClient(t, shop)
			_, v := c.call("POST", "/api/login", `{"user":"grace"}`)
			c.call("POST", "/api/cart", `{"item":"compiler"}`)
			_, v = c.call("GET", "/api/session", "")
			served := v.Node
			admin("/nodes/" + served + "/kill")
			code, v := c.call("GET", "/api/session", "")
			if code != 200 || v.Node == served {
				t.Fatalf("after killing %s: %d %+v", served, code, v)
			}
			kept := v.User == "grace" && len(v.Cart) == 1
			if kept == (strategy == "sticky") {
				t.Fatalf("%s: after killing the serving node, logged in = %v: %+v", strategy, kept, v)
			}
			admin("/nodes/" + served + "/restart")
			if strategy == "cluster" {
				// The restarted node comes back empty and reads its
				// sessions through from their holders.
				if code, v := c.call("GET", "/api/session", ""); code != 200 || v.User != "grace" || len(v.Cart) != 1 {
					t.Fatalf("after restarting %s: %d %+v", served, code, v)
				}
			}
			admin("/nodes")
			if strategy == "cluster" {
				// A node added live takes its share of keys with their
				// sessions.
				if code, v := c.call("GET", "/api/session", ""); code != 200 || v.User != "grace" || len(v.Cart) != 1 {
					t.Fatalf("after adding a node: %d %+v", code, v)
				}
			}
		})
	}
}
