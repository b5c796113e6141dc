package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"crypto/sha256"
	"encoding/hex"

	"github.com/sessionkit/sessionkit/internal/proc"
)

var nodeAdminBanner = regexp.MustCompile(`^node (\S+) admin: (\S+) token (\S+)$`)

const clusterKey = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"

type clusterNode struct {
	proc  *proc.Process
	admin string
	token string
	args  []string
}

type storeCluster struct {
	t       *testing.T
	backups string
	nodes   map[string]*clusterNode
	router  string
	rProc   *proc.Process
	rAdmin  string
	rToken  string
}

// startStoreCluster starts n nodes on the cluster store with the given
// backups, and a router that routes on their gossip.
func startStoreCluster(t *testing.T, n int, backups string) *storeCluster {
	c := &storeCluster{t: t, nodes: map[string]*clusterNode{}, backups: backups}
	for i := 1; i <= n; i++ {
		c.addNode(fmt.Sprintf("n%d", i))
	}
	seed := c.gossipOf("n1")
	r := start(t, "router", "--listen", "127.0.0.1:0", "--join", seed, "--cluster-key", clusterKey, "--gossip-profile", "local",
		"--health-interval", "200ms", "--access-log=false", "--log-level", "warn")
	m, err := r.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.router, c.rProc = m[1], r
	m, err = r.Expect(adminBanner, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.rAdmin, c.rToken = m[1], m[2]
	if err := proc.WaitFor(15*time.Second, func() error {
		var members []struct{ Name string }
		if err := getJSON(c.rAdmin+"/members", c.rToken, &members); err != nil {
			return err
		}
		if len(members) != n {
			return fmt.Errorf("the router sees %d nodes", len(members))
		}
		for _, node := range c.nodes {
			var st struct{ Members []string }
			if err := getJSON(node.admin+"/cluster", node.token, &st); err != nil {
				return err
			}
			if len(st.Members) != n+1 { // the nodes and the router
				return fmt.Errorf("a node sees %d members", len(st.Members))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// addNode starts a new node that joins the cluster through any of its
// nodes.
func (c *storeCluster) addNode(name string) {
	c.t.Helper()
	gport, _ := proc.FreePort()
	hport, _ := proc.FreePort()
	dport, _ := proc.FreePort()
	args := []string{"node", "--store", "cluster", "--name", name, "--listen", fmt.Sprintf("127.0.0.1:%d", hport),
		"--gossip", fmt.Sprintf("127.0.0.1:%d", gport), "--data", fmt.Sprintf("127.0.0.1:%d", dport), "--cluster-key", clusterKey,
		"--backups", c.backups, "--gossip-profile", "local", "--dev", "--log-level", "warn"}
	for other := range c.nodes {
		args = append(args, "--join", c.gossipOf(other))
		break
	}
	c.nodes[name] = &clusterNode{args: args}
	c.startNode(name)
}

// gossipOf returns a node's gossip address.
func (c *storeCluster) gossipOf(name string) string {
	args := c.nodes[name].args
	for i, a := range args {
		if a == "--gossip" {
			return args[i+1]
		}
	}
	return ""
}

// startNode starts (or restarts) a node with its arguments.
func (c *storeCluster) startNode(name string) {
	c.t.Helper()
	n := c.nodes[name]
	p := start(c.t, n.args...)
	if _, err := p.Expect(nodeBanner, 20*time.Second); err != nil {
		c.t.Fatal(err)
	}
	m, err := p.Expect(nodeAdminBanner, 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	n.proc, n.admin, n.token = p, m[2], m[3]
}

func getJSON(url, token string, v any) error {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// shopper is one user's session through the router, its cookie kept by
// hand so that many can run at once.
type shopper struct {
	cookie string
	user   string
	item   string
}

var rawClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

func (c *storeCluster) do(sh *shopper, method, path, body string) (int, view) {
	req, _ := http.NewRequest(method, c.router+path, strings.NewReader(body))
	if sh.cookie != "" {
		req.Header.Set("Cookie", sh.cookie)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		return 0, view{Error: err.Error()}
	}
	defer resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" && ck.Value != "" {
			sh.cookie = "session=" + ck.Value
		}
	}
	var v view
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &v) != nil {
		v.Error = strings.TrimSpace(string(b)) + " (from " + resp.Header.Get("X-Sessionkit-Node") + ")"
	}
	return resp.StatusCode, v
}

// parallel runs fn over the shoppers with a few workers.
func parallel(shoppers []*shopper, fn func(*shopper)) {
	var wg sync.WaitGroup
	ch := make(chan *shopper)
	for range 8 {
		wg.Go(func() {
			for sh := range ch {
				fn(sh)
			}
		})
	}
	for _, sh := range shoppers {
		ch <- sh
	}
	close(ch)
	wg.Wait()
}

// fill logs n users in through the router and gives each a cart item.
func (c *storeCluster) fill(n int) []*shopper {
	shoppers := make([]*shopper, n)
	for i := range shoppers {
		shoppers[i] = &shopper{user: fmt.Sprintf("user%d", i), item: fmt.Sprintf("item%d", i)}
	}
	var failed sync.Map
	parallel(shoppers, func(sh *shopper) {
		if code, v := c.do(sh, "POST", "/api/login", `{"user":"`+sh.user+`"}`); code != 200 || v.User != sh.user {
			failed.Store(sh.user, fmt.Sprintf("login %d %+v", code, v))
			return
		}
		if code, v := c.do(sh, "POST", "/api/cart", `{"item":"`+sh.item+`"}`); code != 200 || len(v.Cart) != 1 {
			failed.Store(sh.user, fmt.Sprintf("cart %d %+v", code, v))
		}
	})
	failed.Range(func(k, v any) bool {
		c.t.Fatalf("%s: %s", k, v)
		return false
	})
	return shoppers
}

// survivors counts the shoppers whose session, cart included, is intact;
// requests that fail count as failures.
func (c *storeCluster) survivors(shoppers []*shopper) (intact, lost, failed int) {
	var mu sync.Mutex
	parallel(shoppers, func(sh *shopper) {
		cookie := sh.cookie
		code, v := c.do(sh, "GET", "/api/session", "")
		sh.cookie = cookie
		mu.Lock()
		defer mu.Unlock()
		switch {
		case code != 200:
			if failed < 3 {
				c.t.Logf("failed request: %d %+v", code, v)
			}
			failed++
		case v.User == sh.user && len(v.Cart) == 1 && v.Cart[0] == sh.item:
			intact++
		default:
			lost++
		}
	})
	return intact, lost, failed
}

// copies counts, over the live nodes, how many hold each shopper's session.
func (c *storeCluster) copies(shoppers []*shopper) map[int]int {
	held := map[string]int{}
	for _, node := range c.nodes {
		var st struct{ Sessions []struct{ ID string } }
		if err := getJSON(node.admin+"/cluster/sessions", node.token, &st); err != nil {
			continue // a killed node
		}
		for _, s := range st.Sessions {
			held[s.ID]++
		}
	}
	hist := map[int]int{}
	for _, sh := range shoppers {
		hist[held[sessionID(sh.cookie)]]++
	}
	return hist
}

// sessionID returns the ID the admin API gives the session of a cookie:
// the hash of its token.
func sessionID(cookie string) string {
	h := sha256.Sum256([]byte(strings.TrimPrefix(cookie, "session=")))
	return hex.EncodeToString(h[:])
}

func TestClusterCrashLosesNothing(t *testing.T) {
	c := startStoreCluster(t, 3, "1")
	for _, node := range c.nodes {
		var st any
		if err := getJSON(node.admin+"/cluster", "wrong", &st); err == nil {
			t.Fatal("a node's admin API answered without its token")
		}
		break
	}
	shoppers := c.fill(1000)
	if hist := c.copies(shoppers); hist[2] != len(shoppers) {
		t.Fatalf("copies before the crash: %v, want every session on 2 nodes", hist)
	}
	c.nodes["n2"].proc.Kill()
	delete(c.nodes, "n2")
	intact, lost, failed := c.survivors(shoppers)
	t.Logf("after SIGKILL of one of 3 nodes with 1 backup: %d intact, %d lost, %d failed requests", intact, lost, failed)
	if intact != len(shoppers) {
		for name, n := range c.nodes {
			out := n.proc.Output()
			if len(out) > 1500 {
				out = out[:1500]
			}
			t.Logf("%s output:\n%s", name, out)
		}
		t.Fatalf("%d sessions lost, %d requests failed; want none", lost, failed)
	}
	start := time.Now()
	if err := proc.WaitFor(20*time.Second, func() error {
		if hist := c.copies(shoppers); hist[2] != len(shoppers) {
			return fmt.Errorf("copies: %v", hist)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("every session back to 2 copies %v after the check began", time.Since(start).Round(time.Millisecond))
}

func TestClusterStickyLosesAThird(t *testing.T) {
	c := startStoreCluster(t, 3, "0")
	shoppers := c.fill(600)
	c.nodes["n2"].proc.Kill()
	delete(c.nodes, "n2")
	intact, lost, failed := c.survivors(shoppers)
	t.Logf("after SIGKILL of one of 3 nodes with 0 backups: %d intact, %d lost, %d failed requests", intact, lost, failed)
	if failed > 0 {
		c.dumpLogs()
		t.Fatalf("%d requests failed: a lost session must start afresh, not fail", failed)
	}
	if share := float64(lost) / float64(len(shoppers)); share < 0.2 || share > 0.47 {
		t.Fatalf("%.2f of sessions lost, want about 1/3 (the killed node's share)", share)
	}
}

func TestClusterConcurrentCart(t *testing.T) {
	c := startStoreCluster(t, 3, "1")
	sh := c.fill(1)[0]
	var wg sync.WaitGroup
	for i := range 49 {
		wg.Go(func() {
			s := *sh
			if code, v := c.do(&s, "POST", "/api/cart", fmt.Sprintf(`{"item":"x%d"}`, i)); code != 200 {
				t.Errorf("append: %d %+v", code, v)
			}
		})
	}
	wg.Wait()
	if _, v := c.do(sh, "GET", "/api/session", ""); len(v.Cart) != 50 {
		t.Fatalf("cart has %d items, want 50", len(v.Cart))
	}
}

// TestClusterRestartLosesNothing: SIGKILL a node and start it again at
// once, empty: it reads its sessions through from their holders, and
// nothing is lost.
func TestClusterRestartLosesNothing(t *testing.T) {
	c := startStoreCluster(t, 3, "1")
	shoppers := c.fill(300)
	c.nodes["n1"].proc.Kill()
	// n1 was the seed: it joins again through another node.
	c.nodes["n1"].args = append(c.nodes["n1"].args, "--join", c.gossipOf("n2"))
	c.startNode("n1")
	intact, lost, failed := c.survivors(shoppers)
	t.Logf("after SIGKILL and restart of one of 3 nodes: %d intact, %d lost, %d failed", intact, lost, failed)
	if intact != len(shoppers) {
		out := c.nodes["n1"].proc.Output()
		if len(out) > 3000 {
			out = out[len(out)-3000:]
		}
		t.Fatalf("%d lost, %d failed; n1's output:\n%s", lost, failed, out)
	}
}

// TestClusterRestartRightAfterLogin: kill the node a user just logged in
// on, read through the survivors, restart it: the session is intact.
func TestClusterRestartRightAfterLogin(t *testing.T) {
	c := startStoreCluster(t, 3, "1")
	shoppers := c.fill(20)
	sh := shoppers[0]
	_, v := c.do(sh, "GET", "/api/session", "")
	served := v.Node
	c.nodes[served].proc.Kill()
	if served == "n1" {
		c.nodes["n1"].args = append(c.nodes["n1"].args, "--join", c.gossipOf("n2"))
	}
	if _, v = c.do(sh, "GET", "/api/session", ""); v.User != sh.user {
		t.Fatalf("after killing %s: %+v", served, v)
	}
	c.startNode(served)
	intact, lost, failed := c.survivors(shoppers)
	t.Logf("served %s; after restart: %d intact, %d lost, %d failed", served, intact, lost, failed)
	if lost > 0 {
		for name, n := range c.nodes {
			out := n.proc.Output()
			if len(out) > 2500 {
				out = out[len(out)-2500:]
			}
			t.Logf("%s:\n%s", name, out)
		}
		t.Fatal("lost")
	}
}
