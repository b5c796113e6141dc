package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/proc"
)

var (
	// routerBanner is the router's first line; the demo's adds the
	// router's pid.
	routerBanner = regexp.MustCompile(`^router: (\S+)(?: pid (\d+))?$`)
	adminBanner  = regexp.MustCompile(`^admin: (\S+) token (\S+)$`)
)

type cluster struct {
	t       *testing.T
	nodes   map[string]*proc.Process
	ports   map[string]int
	members string
	router  string
	admin   string
	token   string
}

// startCluster starts n shop nodes on the memory store, minting tokens on
// the router's ring, and a router in front of them.
func startCluster(t *testing.T, n int) *cluster {
	c := &cluster{t: t, nodes: map[string]*proc.Process{}, ports: map[string]int{}}
	var members []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("n%d", i)
		port, err := proc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		c.ports[name] = port
		members = append(members, fmt.Sprintf("%s=http://127.0.0.1:%d", name, port))
	}
	c.members = strings.Join(members, " ")
	for name := range c.ports {
		c.startNode(name)
	}
	r := start(t, "router", "--listen", "127.0.0.1:0", "--members", c.members, "--health-interval", "200ms", "--access-log=false")
	m, err := r.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.router = m[1]
	m, err = r.Expect(adminBanner, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.admin, c.token = m[1], m[2]
	return c
}

func (c *cluster) startNode(name string) {
	c.t.Helper()
	p := start(c.t, "node", "--name", name, "--listen", fmt.Sprintf("127.0.0.1:%d", c.ports[name]), "--members", c.members, "--dev")
	if _, err := p.Expect(nodeBanner, 20*time.Second); err != nil {
		c.t.Fatal(err)
	}
	c.nodes[name] = p
}

// servedBy sends a GET with the token through the router and returns the
// node that served it.
func (c *cluster) servedBy(token string) string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.router+"/healthz", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Sessionkit-Node")
}

func TestRouterStickySessions(t *testing.T) {
	c := startCluster(t, 3)
	// Log in through the router: every later request reaches the node
	// that minted the token, and the user stays logged in.
	for i := range 3 {
		cl := newClient(t, c.router)
		_, v := cl.call("POST", "/api/login", fmt.Sprintf(`{"user":"u%d"}`, i))
		home := v.Node
		for j := range 100 {
			code, v := cl.call("GET", "/api/session", "")
			if code != 200 || v.Node != home || v.User != fmt.Sprintf("u%d", i) {
				t.Fatalf("request %d: %d, served by %s (home %s), user %q", j, code, v.Node, home, v.User)
			}
		}
	}
}

func TestRouterFailoverAndScaleOut(t *testing.T) {
	c := startCluster(t, 3)
	toks := make([]string, 300)
	before := map[string]string{}
	for i := range toks {
		toks[i] = string(sessionkit.NewToken())
		before[toks[i]] = c.servedBy(toks[i])
	}

	// SIGKILL n2: its keys move, no other key does.
	c.nodes["n2"].Kill()
	moved := map[string]string{}
	for _, tok := range toks {
		got := c.servedBy(tok)
		if before[tok] != "n2" && got != before[tok] {
			t.Fatalf("a key of %s moved to %s when n2 died", before[tok], got)
		}
		if before[tok] == "n2" {
			if got == "n2" {
				t.Fatal("a dead node served")
			}
			moved[tok] = got
		}
	}
	if len(moved) < 50 {
		t.Fatalf("only %d of 300 keys were n2's", len(moved))
	}

	// Restart n2: its keys come back once the health checks pass.
	c.startNode("n2")
	if err := proc.WaitFor(10*time.Second, func() error {
		for _, tok := range toks {
			if got := c.servedBy(tok); got != before[tok] {
				return fmt.Errorf("a key of %s still goes to %s", before[tok], got)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Add n4 through the admin API: about a quarter of keys move, all to n4.
	port, _ := proc.FreePort()
	c.ports["n4"] = port
	c.members += fmt.Sprintf(" n4=http://127.0.0.1:%d", port)
	c.startNode("n4")
	req, _ := http.NewRequest("POST", c.admin+"/members", strings.NewReader(fmt.Sprintf(`{"name":"n4","url":"http://127.0.0.1:%d"}`, port)))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("add n4: %v %v", err, resp)
	}
	resp.Body.Close()
	n := 0
	for _, tok := range toks {
		got := c.servedBy(tok)
		if got != before[tok] {
			if got != "n4" {
				t.Fatalf("a key moved from %s to %s, not to n4", before[tok], got)
			}
			n++
		}
	}
	if share := float64(n) / float64(len(toks)); share < 0.15 || share > 0.35 {
		t.Fatalf("%.2f of keys moved to n4, want about 1/4", share)
	}

	// Without the token, the admin API refuses.
	req, _ = http.NewRequest("DELETE", c.admin+"/members/n1", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("admin without token: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
}

// TestTwoRouterProcessesAgree: routers share no state, yet route every
// token identically.
func TestTwoRouterProcessesAgree(t *testing.T) {
	c := startCluster(t, 3)
	r2 := start(t, "router", "--listen", "127.0.0.1:0", "--members", c.members, "--access-log=false")
	m, err := r2.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	other := &cluster{t: t, router: m[1]}
	for range 200 {
		tok := string(sessionkit.NewToken())
		if a, b := c.servedBy(tok), other.servedBy(tok); a != b {
			t.Fatalf("routers disagree: %s vs %s", a, b)
		}
	}
}
