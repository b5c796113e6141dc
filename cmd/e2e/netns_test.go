package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proctest"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// TestSeparateHosts runs a cluster as on separate machines: three nodes,
// the router and a client each in a Linux network namespace of its own,
// with its own address, linked by veth pairs to a bridge in a hub
// namespace. It mirrors the Kubernetes manifests of deploy/: the nodes
// bind 0.0.0.0 and advertise their address (the pod IP), join through
// the first node's, and the router joins their gossip. Users log in
// through the router from the client's namespace; one node is killed
// (SIGKILL); nobody is logged out and no cart is lost.
//
// It needs root and iproute2: outside CI, where namespaces cannot be
// made, it skips; under CI it fails.
func TestSeparateHosts(t *testing.T) {
	n := newNetns(t)
	names := []string{"n1", "n2", "n3", "router", "client"}
	addr := map[string]string{}
	for i, name := range names {
		addr[name] = n.addHost(name, i+1)
	}
	bin := binary(t)
	key := "SESSIONKIT_CLUSTER_KEY=" + clusterKey // secrets stay off command lines
	token := "netns-admin-token"

	var nodes = map[string]*proc.Process{}
	for _, name := range names[:3] {
		args := []string{"node", "--store", "cluster", "--name", name, "--dev", "--log-level", "warn",
			"--listen", "0.0.0.0:8081", "--gossip", "0.0.0.0:7946", "--data", "0.0.0.0:7947",
			"--advertise", addr[name], "--gossip-profile", "local"}
		if name != "n1" {
			args = append(args, "--join", addr["n1"]+":7946")
		}
		p := n.start(name, []string{key}, bin, args...)
		m, err := p.Expect(nodeBanner, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := "http://" + addr[name] + ":8081"; m[2] != want {
			t.Fatalf("node %s announces %s, want its advertised %s", name, m[2], want)
		}
		nodes[name] = p
	}
	r := n.start("router", []string{key, "SESSIONKIT_ADMIN_TOKEN=" + token}, bin, "router", "--listen", "0.0.0.0:8080",
		"--admin", "0.0.0.0:9090", "--join", addr["n1"]+":7946", "--gossip", "0.0.0.0:7946", "--advertise", addr["router"],
		"--gossip-profile", "local", "--health-interval", "200ms", "--access-log=false", "--log-level", "warn")
	if _, err := r.Expect(routerBanner, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	// The client logs users in through the router, once it routes to
	// the three nodes at their advertised URLs.
	state := filepath.Join(t.TempDir(), "users.json")
	var nodeURLs []string
	for _, name := range names[:3] {
		nodeURLs = append(nodeURLs, "http://"+addr[name]+":8081")
	}
	clientEnv := []string{
		"SESSIONKIT_NETNS_ROUTER=http://" + addr["router"] + ":8080",
		"SESSIONKIT_NETNS_ADMIN=http://" + addr["router"] + ":9090",
		"SESSIONKIT_ADMIN_TOKEN=" + token,
		"SESSIONKIT_NETNS_STATE=" + state,
		"SESSIONKIT_NETNS_NODES=" + strings.Join(nodeURLs, " "),
		"SESSIONKIT_NETNS_ROUTER_GOSSIP=" + addr["router"] + ":7946",
	}
	out := n.client(t, "login", clientEnv)
	var served map[string]int
	if err := json.Unmarshal(out, &served); err != nil {
		t.Fatalf("the client's login output %q: %v", out, err)
	}
	t.Logf("users by node: %v", served)
	// Kill the node that serves the most users.
	victim := "n1"
	for name, count := range served {
		if count > served[victim] || count == served[victim] && name > victim {
			victim = name
		}
	}
	if served[victim] == 0 {
		t.Fatalf("no node served a user: %v", served)
	}
	nodes[victim].Kill()
	t.Logf("killed %s", victim)
	n.client(t, "check", clientEnv)
}

// netns makes and removes the namespaces of one run:
// sessionkit-e2e-PID-NAME, and a hub with the bridge.
type netns struct {
	t      *testing.T
	ip     string
	prefix string // sessionkit-e2e-PID-
	subnet string // 10.231.RUN.
	hub    string
	made   []string
}

var staleNetns = regexp.MustCompile(`^sessionkit-e2e-(\d+)-\S+`)

// newNetns checks that namespaces can be made (skipping or, under CI,
// failing when not), sweeps those left by killed runs, and makes the hub.
func newNetns(t *testing.T) *netns {
	t.Helper()
	ip := install(t, "ip", "iproute2")
	if os.Geteuid() != 0 {
		cannot(t, "network namespaces need root")
	}
	run := os.Getpid()
	n := &netns{t: t, ip: ip, prefix: fmt.Sprintf("sessionkit-e2e-%d-", run), subnet: fmt.Sprintf("10.231.%d.", run%250+1)}
	n.sweep()
	t.Cleanup(n.remove)
	n.hub = n.prefix + "hub"
	if out, err := n.run("netns", "add", n.hub); err != nil {
		cannot(t, fmt.Sprintf("ip netns add: %v: %s", err, out))
	}
	n.made = append(n.made, n.hub)
	n.must("-n", n.hub, "link", "set", "lo", "up")
	n.must("-n", n.hub, "link", "add", "br0", "type", "bridge")
	n.must("-n", n.hub, "link", "set", "br0", "up")
	return n
}

// cannot skips the test, or fails it under CI.
func cannot(t *testing.T, why string) {
	t.Helper()
	proctest.Unavailable(t, "cannot make network namespaces here ("+why+"): run as root with iproute2, as CI does")
}

// sweep removes the namespaces of runs whose process is gone, and those
// of an earlier process that had this one's pid: this run has made none
// yet.
func (n *netns) sweep() {
	out, err := n.run("netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		m := staleNetns.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid != os.Getpid() && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // its run is alive
		}
		name := strings.Fields(line)[0]
		if out, err := n.run("netns", "del", name); err != nil {
			n.t.Logf("sweeping the stale namespace %s: %v: %s", name, err, out)
		} else {
			n.t.Logf("swept the stale namespace %s", name)
		}
	}
}

// addHost makes a namespace for a host, linked to the hub's bridge, with
// the address SUBNET.(10+i)/24, and returns the address.
func (n *netns) addHost(name string, i int) string {
	ns := n.prefix + name
	n.must("netns", "add", ns)
	n.made = append(n.made, ns)
	port := fmt.Sprintf("p%d", i)
	n.must("-n", n.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
	n.must("-n", n.hub, "link", "set", port, "master", "br0")
	n.must("-n", n.hub, "link", "set", port, "up")
	addr := n.subnet + strconv.Itoa(10+i)
	n.must("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	n.must("-n", ns, "link", "set", "eth0", "up")
	n.must("-n", ns, "link", "set", "lo", "up")
	return addr
}

// start starts a program in a host's namespace; it is killed at the end
// of the test, before the namespaces are removed.
func (n *netns) start(host string, env []string, name string, args ...string) *proc.Process {
	n.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := proc.Start(ctx, env, n.ip, append([]string{"netns", "exec", n.prefix + host, name}, args...)...)
	if err != nil {
		cancel()
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() {
		cancel()
		<-p.Done()
	})
	return p
}

// client runs this test binary in the client's namespace as the client
// (see netnsClient) for one phase, and returns what it printed.
func (n *netns) client(t *testing.T, phase string, env []string) []byte {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.ip, "netns", "exec", n.prefix+"client", self, "-test.run", "^$")
	cmd.Env = append(os.Environ(), append(env, "SESSIONKIT_NETNS_CLIENT="+phase)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the client's %s: %v\n%s", phase, err, stderr.String())
	}
	return stdout.Bytes()
}

// remove deletes the run's namespaces: their links and bridge go with
// them.
func (n *netns) remove() {
	for _, ns := range slices.Backward(n.made) {
		if out, err := n.run("netns", "del", ns); err != nil {
			n.t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

func (n *netns) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, n.ip, args...).CombinedOutput()
}

func (n *netns) must(args ...string) {
	n.t.Helper()
	if out, err := n.run(args...); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// netnsClient is the client of TestSeparateHosts, run in the client's
// namespace by the test binary itself (TestMain calls it when
// SESSIONKIT_NETNS_CLIENT names a phase):
//
//	login  waits until the router routes to the expected nodes, logs in
//	       users who each put an item in their cart, saves their
//	       cookies, and prints how many users each node served
//	check  checks, through the router, that every saved user is still
//	       logged in with the cart: an error (a 502 or 503 while the
//	       cluster fails over) is retried; a page that answers without
//	       the user or the cart fails at once
func netnsClient(phase string) error {
	if phase == "record" {
		return recorder() // TestPartitions's
	}
	routerURL, admin := os.Getenv("SESSIONKIT_NETNS_ROUTER"), os.Getenv("SESSIONKIT_NETNS_ADMIN")
	state := os.Getenv("SESSIONKIT_NETNS_STATE")
	base, err := url.Parse(routerURL)
	if err != nil {
		return err
	}
	const users = 30
	type saved struct {
		User    string
		Cookies []*http.Cookie
	}
	switch phase {
	case "login":
		want := strings.Fields(os.Getenv("SESSIONKIT_NETNS_NODES"))
		if err := proc.WaitFor(60*time.Second, func() error {
			var members []struct {
				URL     string
				Healthy bool
			}
			if err := adminGet(admin, "/members", &members); err != nil {
				return err
			}
			var got []string
			for _, m := range members {
				if m.Healthy {
					got = append(got, m.URL)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("the router routes to %v, want %v", got, want)
			}
			return nil
		}); err != nil {
			return err
		}
		// The router shows where it listens and where it is reached.
		var addrs map[string]string
		if err := adminGet(admin, "/addresses", &addrs); err != nil {
			return err
		}
		if addrs["listen"] != "0.0.0.0:8080" || addrs["gossip_bound"] != "0.0.0.0:7946" || addrs["gossip"] != os.Getenv("SESSIONKIT_NETNS_ROUTER_GOSSIP") {
			return fmt.Errorf("the router's /addresses: %v", addrs)
		}
		served := map[string]int{}
		var all []saved
		for i := range users {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			user := fmt.Sprintf("user%d", i)
			if _, err := shop(c, "POST", routerURL+"/api/login", `{"user":"`+user+`"}`); err != nil {
				return err
			}
			v, err := shop(c, "POST", routerURL+"/api/cart", `{"item":"item-`+user+`"}`)
			if err != nil {
				return err
			}
			if v.User != user || len(v.Cart) != 1 {
				return fmt.Errorf("%s after login and cart: %+v", user, v)
			}
			served[v.Node]++
			all = append(all, saved{User: user, Cookies: jar.Cookies(base)})
		}
		b, _ := json.Marshal(all)
		if err := os.WriteFile(state, b, 0o600); err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(served)
	case "check":
		b, err := os.ReadFile(state)
		if err != nil {
			return err
		}
		var all []saved
		if err := json.Unmarshal(b, &all); err != nil {
			return err
		}
		check := func() error {
			for _, s := range all {
				jar, _ := cookiejar.New(nil)
				jar.SetCookies(base, s.Cookies)
				c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
				err := proc.WaitFor(30*time.Second, func() error {
					v, err := shop(c, "GET", routerURL+"/api/session", "")
					switch {
					case err != nil:
						return err // no answer, or an error page while failing over: retried
					case v.User != s.User || len(v.Cart) != 1 || v.Cart[0] != "item-"+s.User:
						return proc.Stop(fmt.Errorf("%s was logged out or lost the cart: %+v", s.User, v))
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		}
		// At once, while gossip has not yet declared the node dead; then
		// once it has, and the router routes on the two others only.
		if err := check(); err != nil {
			return err
		}
		if err := proc.WaitFor(30*time.Second, func() error {
			var members []struct{ Name string }
			if err := adminGet(admin, "/members", &members); err != nil {
				return err
			}
			if len(members) != 2 {
				return fmt.Errorf("the router still routes on %v", members)
			}
			return nil
		}); err != nil {
			return err
		}
		return check()
	}
	return fmt.Errorf("unknown phase %q", phase)
}

// adminGet decodes the JSON answer of a GET of the router's admin API.
func adminGet(admin, path string, v any) error {
	req, _ := http.NewRequest("GET", admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+os.Getenv("SESSIONKIT_ADMIN_TOKEN"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %d: %w", path, resp.StatusCode, err)
	}
	return nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.code, e.body) }

// shop sends one request of the shop's JSON API.
func shop(c *http.Client, method, url, body string) (view, error) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return view{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return view{}, &statusError{resp.StatusCode, string(b)}
	}
	var v view
	if err := json.Unmarshal(b, &v); err != nil {
		return view{}, fmt.Errorf("%s %s: not JSON: %q", method, url, b)
	}
	return v, nil
}
