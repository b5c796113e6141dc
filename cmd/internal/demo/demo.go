// Package demo runs a local cluster on loopback: a router and shop nodes
// as child processes of one command, and an admin page to kill, restart
// and add nodes while users shop.
package demo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// Strategies are the strategies the demo runs.
var Strategies = []string{"cluster", "sticky", "cookie", "redis", "sql"}

// Config configures a demo.
type Config struct {
	// Binary is the sessionkit binary to run the children with.
	Binary string
	// Strategy is one of Strategies. Default "cluster".
	Strategy string
	// Nodes is the number of shop nodes. Default 3.
	Nodes int
	// Backups is the cluster strategy's backups: a number or "all".
	// Default "1".
	Backups string
	// Redis is the Redis URL of the redis strategy.
	Redis string
	// Postgres, when set, is the sql strategy's PostgreSQL URL; by
	// default the nodes share a SQLite file.
	Postgres string
	// Listen is the router's address. Default 127.0.0.1:8080.
	Listen string
	// Admin is the admin page's address. Default 127.0.0.1:0.
	Admin string
	// Domain, when set, serves the shop on its subdomains (shop.DOMAIN,
	// pay.DOMAIN) over HTTPS, sharing one session through a cookie for
	// the parent domain. The demo makes a local CA for it.
	Domain string
	// CADir keeps the demo's CA. Default: sessionkit/demo-ca in the user's
	// configuration folder.
	CADir string
	// Logger receives the demo's log lines.
	Logger *slog.Logger
}

// Demo is a running demo.
type Demo struct {
	cfg   Config
	key   string
	token string
	ctx   context.Context
	dir   string // the members file's folder, for strategies without gossip

	mu     sync.Mutex
	nodes  map[string]*node
	order  []string
	router *proc.Process
	seed   string

	RouterURL string
	AdminURL  string
	// CAFile is the demo CA's certificate, with Config.Domain.
	CAFile  string
	cert    string
	certKey string
}

type node struct {
	admin  string // the node's admin API
	token  string // its bearer token, made by the demo
	name   string
	http   int
	gossip int
	data   int
	p      *proc.Process
	url    string
}

var (
	// domainName is a DNS name of two labels or more: the demo's CA is
	// constrained to it, and its files are named after it.
	domainName   = regexp.MustCompile(`^(?i:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	nodeBanner   = regexp.MustCompile(`^node (\S+): (http://\S+) pid (\d+)$`)
	routerBanner = regexp.MustCompile(`^router: (\S+)$`)
	adminBanner  = regexp.MustCompile(`^admin: (\S+) token (\S+)$`)
	// nodeAdminBanner is a node's admin API: metrics, readiness and,
	// with the cluster store, the cluster's state.
	nodeAdminBanner = regexp.MustCompile(`^node (\S+) admin: (\S+) token \S+$`)
)

// Start starts the router and the nodes and returns once all are ready.
// They run until ctx ends; Wait then waits for them to exit.
func Start(ctx context.Context, cfg Config) (*Demo, error) {
	if cfg.Strategy == "" {
		cfg.Strategy = "cluster"
	}
	if !slices.Contains(Strategies, cfg.Strategy) {
		return nil, fmt.Errorf("unknown strategy %q (want one of %s)", cfg.Strategy, strings.Join(Strategies, ", "))
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = 3
	}
	if cfg.Backups == "" {
		cfg.Backups = "1"
	}
	if cfg.Strategy == "sticky" {
		cfg.Backups = "0"
	}
	cfg.Listen = cmp.Or(cfg.Listen, "127.0.0.1:8080")
	cfg.Admin = cmp.Or(cfg.Admin, "127.0.0.1:0")
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.Strategy == "redis" && cfg.Redis == "" {
		return nil, errors.New("the redis strategy needs a reachable Redis: set $SESSIONKIT_REDIS or give -redis-file FILE, with its URL (redis://HOST:PORT)")
	}
	d := &Demo{cfg: cfg, ctx: ctx, nodes: map[string]*node{}, key: randomHex(32), token: randomHex(16)}
	if cfg.Domain != "" {
		if !domainName.MatchString(cfg.Domain) {
			return nil, fmt.Errorf("-domain %q: want a DNS name of two labels or more, such as mall.test", cfg.Domain)
		}
		if cfg.CADir == "" {
			dir, err := os.UserConfigDir()
			if err != nil {
				return nil, err
			}
			cfg.CADir = filepath.Join(dir, "sessionkit", "demo-ca")
			d.cfg.CADir = cfg.CADir
		}
		var err error
		if d.CAFile, d.cert, d.certKey, err = localCA(cfg.CADir, cfg.Domain, cfg.Logger); err != nil {
			return nil, err
		}
	}
	if !d.gossip() {
		dir, err := os.MkdirTemp("", "sessionkit-demo")
		if err != nil {
			return nil, err
		}
		d.dir = dir
		go func() {
			<-ctx.Done()
			os.RemoveAll(dir)
		}()
	}
	for i := 1; i <= cfg.Nodes; i++ {
		if _, err := d.addNode(); err != nil {
			return nil, err
		}
	}
	if err := d.startRouter(); err != nil {
		return nil, err
	}
	if err := d.serveAdmin(); err != nil {
		return nil, err
	}
	return d, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// addNode starts a new node with the next free name.
func (d *Demo) addNode() (*node, error) {
	d.mu.Lock()
	name := fmt.Sprintf("n%d", len(d.order)+1)
	d.order = append(d.order, name)
	d.mu.Unlock()
	// A port free a moment ago may be taken meanwhile (by an outgoing
	// connection of the other processes): start again on new ports.
	for attempt := 1; ; attempt++ {
		var ports [3]int
		for i := range ports {
			p, err := proc.FreePort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
		}
		n := &node{name: name, http: ports[0], gossip: ports[1], data: ports[2], token: randomHex(16)}
		d.mu.Lock()
		d.nodes[name] = n
		seed := d.seed == ""
		if seed {
			d.seed = fmt.Sprintf("127.0.0.1:%d", n.gossip)
		}
		d.mu.Unlock()
		err := d.startNode(n)
		if err == nil || attempt == 3 || !proc.AddrInUse(err) {
			return n, err
		}
		if seed {
			d.mu.Lock()
			d.seed = ""
			d.mu.Unlock()
		}
	}
}

// env returns the environment additions of a child: its admin API's
// token, vars, and an empty value for every other SESSIONKIT_ variable
// the demo's own environment holds. Each sets a flag of the command, and
// the child must not take one instead of the demo's choice: a user who
// runs nodes of their own may well have SESSIONKIT_ADMIN_TOKEN set (the
// demo would not know the token), and SESSIONKIT_ADMIN, meant for the
// demo's admin page, would have every child listen on its address. An
// empty variable sets nothing.
func (d *Demo) env(adminToken string, vars ...string) []string {
	out := []string{"SESSIONKIT_CLUSTER_KEY=", "SESSIONKIT_COOKIE_KEYS=", "SESSIONKIT_REDIS=", "SESSIONKIT_POSTGRES="}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SESSIONKIT_") {
			out = append(out, k+"=")
		}
	}
	out = append(out, "SESSIONKIT_ADMIN_TOKEN="+adminToken)
	return append(out, vars...) // later entries win in exec
}

// gossip reports whether the strategy's nodes gossip (the cluster store);
// the others' router reads a members file the demo keeps.
func (d *Demo) gossip() bool { return d.cfg.Strategy == "cluster" || d.cfg.Strategy == "sticky" }

func (d *Demo) membersFile() string { return filepath.Join(d.dir, "members") }

// writeMembers writes the members file the router reloads.
func (d *Demo) writeMembers() error {
	d.mu.Lock()
	var b strings.Builder
	for _, name := range d.order {
		fmt.Fprintf(&b, "%s=http://127.0.0.1:%d\n", name, d.nodes[name].http)
	}
	d.mu.Unlock()
	tmp := d.membersFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.membersFile())
}

func (d *Demo) startNode(n *node) error {
	args := []string{"node", "--name", n.name, "--listen", fmt.Sprintf("127.0.0.1:%d", n.http), "--strategy", d.cfg.Strategy}
	if d.cfg.Domain != "" {
		// Behind the router's HTTPS: a Secure cookie for the parent domain.
		args = append(args, "--cookie-domain", d.cfg.Domain)
	} else {
		args = append(args, "--dev")
	}
	// Secrets go to the children in their environment, which only their
	// user can read, never on their command line, which ps shows to all.
	switch d.cfg.Strategy {
	case "cookie":
		// "Log out everywhere" and logout keep their revocation counters
		// in a SQLite file the nodes share.
		return d.run(n, append(args, "--store", "cookie", "--sqlite", filepath.Join(d.dir, "generations.db")), "SESSIONKIT_COOKIE_KEYS="+d.key)
	case "sql":
		if d.cfg.Postgres != "" {
			return d.run(n, append(args, "--store", "sql"), "SESSIONKIT_POSTGRES="+d.cfg.Postgres)
		}
		return d.run(n, append(args, "--store", "sql", "--sqlite", filepath.Join(d.dir, "sessions.db")))
	case "redis":
		return d.run(n, append(args, "--store", "redis"), "SESSIONKIT_REDIS="+d.cfg.Redis)
	}
	// One machine: the local timings detect a stopped node in about two
	// seconds, where the command's default (lan) takes four to six.
	args = append(args, "--store", "cluster", "--backups", d.cfg.Backups, "--gossip-profile", "local",
		"--gossip", fmt.Sprintf("127.0.0.1:%d", n.gossip), "--data", fmt.Sprintf("127.0.0.1:%d", n.data))
	if join := d.joinList(n); join != "" {
		args = append(args, "--join", join)
	}
	return d.run(n, args, "SESSIONKIT_CLUSTER_KEY="+d.key)
}

// joinList returns the gossip addresses a starting node joins through:
// the seed, and every other node that is running, so that a node added
// after the seed was killed still finds the cluster. It is empty for the
// first node.
func (d *Demo) joinList(n *node) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var addrs []string
	if seed := fmt.Sprintf("127.0.0.1:%d", n.gossip); seed != d.seed {
		addrs = append(addrs, d.seed)
	}
	for _, name := range d.order {
		o := d.nodes[name]
		if o == n || o.p == nil {
			continue
		}
		select {
		case <-o.p.Done():
			continue
		default:
		}
		if a := fmt.Sprintf("127.0.0.1:%d", o.gossip); a != d.seed {
			addrs = append(addrs, a)
		}
	}
	return strings.Join(addrs, ",")
}

// run starts a node's process, with extra environment variables ("K=V"),
// and waits for its banner.
func (d *Demo) run(n *node, args []string, env ...string) error {
	d.mu.Lock()
	token := n.token
	d.mu.Unlock()
	p, err := proc.Start(d.ctx, d.env(token, env...), d.cfg.Binary, args...)
	if err != nil {
		return err
	}
	m, err := p.Expect(nodeBanner, 30*time.Second)
	if err != nil {
		p.Kill()
		return err
	}
	admin, err := p.Expect(nodeAdminBanner, 10*time.Second)
	if err != nil {
		p.Kill()
		return err
	}
	d.mu.Lock()
	n.p, n.url = p, m[2]
	n.admin = admin[2] // the banner shows the token as "(given)"
	d.mu.Unlock()
	if !d.gossip() && d.router != nil {
		return d.writeMembers()
	}
	return nil
}

func (d *Demo) startRouter() error {
	// The router sends requests only to nodes whose store is usable.
	args := []string{"router", "--listen", d.cfg.Listen, "--health-path", "/readyz", "--health-interval", "500ms", "--access-log=false"}
	if d.cfg.Domain != "" {
		args = append(args, "--tls-cert", d.cert, "--tls-key", d.certKey)
	}
	var env []string
	if d.gossip() {
		args = append(args, "--join", d.seed, "--gossip-profile", "local")
		env = append(env, "SESSIONKIT_CLUSTER_KEY="+d.key)
	} else {
		if err := d.writeMembers(); err != nil {
			return err
		}
		args = append(args, "--members-file", d.membersFile())
	}
	token := randomHex(16)
	p, err := proc.Start(d.ctx, d.env(token, env...), d.cfg.Binary, args...)
	if err != nil {
		return err
	}
	m, err := p.Expect(routerBanner, 30*time.Second)
	if err != nil {
		p.Kill()
		return err
	}
	d.router, d.RouterURL = p, m[1]
	if d.cfg.Domain != "" {
		// Browsers must reach it by a name under the shared domain.
		_, port, _ := strings.Cut(strings.TrimPrefix(m[1], "https://"), ":")
		d.RouterURL = fmt.Sprintf("https://shop.%s:%s", d.cfg.Domain, port)
	}
	am, err := p.Expect(adminBanner, 10*time.Second)
	if err != nil {
		return err
	}
	// Ready once the router routes to every node, all healthy, and the
	// nodes have settled their first placement.
	return proc.WaitFor(30*time.Second, func() error {
		req, _ := http.NewRequest("GET", am[1]+"/members", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var members []struct{ Healthy bool }
		if err := json.NewDecoder(resp.Body).Decode(&members); err != nil {
			return err
		}
		healthy := 0
		for _, m := range members {
			if m.Healthy {
				healthy++
			}
		}
		if healthy != d.cfg.Nodes {
			return fmt.Errorf("the router routes to %d healthy nodes of %d", healthy, d.cfg.Nodes)
		}
		return d.converged()
	})
}

// converged reports, for the gossiping strategies, whether every node
// sees every other node and the router: then placements agree.
func (d *Demo) converged() error {
	if !d.gossip() {
		return nil
	}
	d.mu.Lock()
	nodes := slices.Collect(maps.Values(d.nodes))
	d.mu.Unlock()
	for _, n := range nodes {
		req, _ := http.NewRequest("GET", n.admin+"/cluster", nil)
		req.Header.Set("Authorization", "Bearer "+n.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var st struct{ Members []string }
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if len(st.Members) != len(nodes)+1 {
			return fmt.Errorf("%s sees %d members of %d", n.name, len(st.Members), len(nodes)+1)
		}
	}
	return nil
}

// Banner returns the lines the demo prints once ready: the router and
// each node, with their process IDs, the admin page.
func (d *Demo) Banner() string {
	var b strings.Builder
	fmt.Fprintf(&b, "router: %s pid %d\n", d.RouterURL, d.router.Pid())
	d.mu.Lock()
	for _, name := range d.order {
		n := d.nodes[name]
		fmt.Fprintf(&b, "node %s: %s pid %d\n", n.name, n.url, n.p.Pid())
	}
	d.mu.Unlock()
	fmt.Fprintf(&b, "admin: %s\n", d.AdminURL)
	if d.CAFile != "" {
		fmt.Fprintf(&b, "ca: %s\n", d.CAFile)
	}
	return b.String()
}

// Wait waits until every child has exited (after ctx ended).
func (d *Demo) Wait() {
	d.mu.Lock()
	procs := []*proc.Process{d.router}
	for _, n := range d.nodes {
		if n.p != nil {
			procs = append(procs, n.p)
		}
	}
	d.mu.Unlock()
	for _, p := range procs {
		if p == nil {
			continue
		}
		p.Signal(syscall.SIGTERM)
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			p.Kill()
		}
	}
}

// RouterPid returns the router's process ID.
func (d *Demo) RouterPid() int { return d.router.Pid() }

// NodeAdmin returns a node's cluster store admin API (/cluster) and its
// bearer token; both are empty for strategies without the cluster store.
func (d *Demo) NodeAdmin(name string) (url, token string) {
	if !d.gossip() {
		return "", ""
	}
	return d.Admin(name)
}

// Admin returns a node's admin API (/metrics, /readyz and, for the
// cluster store, /cluster) and its bearer token.
func (d *Demo) Admin(name string) (url, token string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := d.nodes[name]; n != nil {
		return n.admin, n.token
	}
	return "", ""
}

// SQLiteFile returns the SQLite file the sql strategy's nodes share, or
// "" for other strategies and PostgreSQL.
func (d *Demo) SQLiteFile() string {
	if d.cfg.Strategy != "sql" || d.cfg.Postgres != "" {
		return ""
	}
	return filepath.Join(d.dir, "sessions.db")
}
