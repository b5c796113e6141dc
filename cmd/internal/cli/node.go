package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/node"
	"github.com/sessionkit/sessionkit/placement"
	"github.com/sessionkit/sessionkit/ring"
	"github.com/sessionkit/sessionkit/router"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sessionkit node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve on")
	name := fs.String("name", "n1", "this node's stable name")
	strategy := fs.String("strategy", "", "strategy name to display (default: the store's name)")
	dev := fs.Bool("dev", false, "development cookie for plain HTTP on loopback (not Secure, no __Host- prefix)")
	logf := addLogFlags(fs, "info")
	cookieDomain := fs.String("cookie-domain", "", "share the session cookie with every subdomain of this domain (e.g. mall.test); serve HTTPS in front")
	members := fs.String("members", "", `the router's members ("name=URL[,weight]" separated by spaces): mint tokens this node owns on their ring`)
	createLimit := fs.String("create-limit", "", `limit session creation per client: "RATE[,BURST]", sessions a second and at once (burst default 10); a client is an IPv4 address or an IPv6 /64. Default: no limit`)
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs of proxies (the router) whose X-Forwarded-For names the client, for -create-limit")
	if err := parseSecrets(fs, args, secretFlags...); err != nil {
		return err
	}
	var session sessionkit.Config
	limit, err := parseCreateLimit(*createLimit)
	if err != nil {
		return err
	}
	if limit != nil {
		if limit.TrustedProxies, err = parsePrefixes("trusted-proxies", *trusted); err != nil {
			return err
		}
		session.CreateLimit = limit
	} else if *trusted != "" {
		return fmt.Errorf("-trusted-proxies is for -create-limit, which is not set")
	}
	if *members != "" {
		list, err := parseMembers("members", *members)
		if err != nil {
			return err
		}
		var rm []ring.Member
		for _, m := range list {
			rm = append(rm, ring.Member{Name: m.Name, Weight: m.Weight})
		}
		r, err := ring.New(ring.Config{}, rm)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(list, func(m router.Member) bool { return m.Name == *name }) {
			return fmt.Errorf("-members does not list this node, %q", *name)
		}
		session.Minter = placement.NewMinter(*name, func() *ring.Ring { return r })
	}
	log, err := logf.logger(stderr)
	if err != nil {
		return err
	}
	if limit != nil && *trusted == "" {
		log.Warn("-create-limit without -trusted-proxies: behind a router every client counts as the router, and one limit throttles them all; give -trusted-proxies with the router's address")
	}
	if *strategy == "" {
		*strategy = sf.store
	}
	return serveNode(ctx, &sf, node.Config{Name: *name, Strategy: *strategy, Listen: *listen, Dev: *dev, Logger: log, Session: session, CookieDomain: *cookieDomain}, stdout)
}

// serveNode opens the store, starts the node, prints its banner and serves
// until ctx ends.
func serveNode(ctx context.Context, sf *storeFlags, cfg node.Config, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.Listener = ln
	cfg.Registry = prometheus.NewRegistry()
	transport := &sessionkit.CookieTransport{Insecure: cfg.Dev, Domain: cfg.CookieDomain}
	cfg.Session.Transport = transport
	opened, err := sf.open(ctx, storeEnv{name: cfg.Name, url: "http://" + ln.Addr().String(), log: cfg.Logger, reg: cfg.Registry, transport: transport})
	if err != nil {
		return err
	}
	defer opened.close()
	cfg.Store = opened.store
	cfg.Ready = opened.ready
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	admin, err := serveAdmin(sf.admin, sf.adminToken, adminRoutes{metrics: n.Metrics(), ready: n.Readiness(), stats: opened.admin, drain: opened.drain})
	if err != nil {
		n.Shutdown(context.Background())
		return fmt.Errorf("admin listener: %w", err)
	}
	defer admin.Close()
	fmt.Fprintln(stdout, n.Banner(pid))
	// The token is shown only when the node made it: one the user gave
	// is a secret the user already has.
	shown := admin.token
	if shown == "" {
		shown = "(given)"
	}
	fmt.Fprintf(stdout, "node %s admin: %s token %s\n", cfg.Name, admin.url, shown)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if opened.drain != nil {
		// Hand the sessions over while still answering: requests that
		// arrive meanwhile are forwarded to the sessions' new owners.
		if err := opened.drain(sctx); err != nil {
			cfg.Logger.Warn("drain", "err", err)
		}
		// Routers learn of the drain by gossip: serve until they
		// have stopped sending requests.
		qctx, qcancel := context.WithTimeout(sctx, 3*time.Second)
		n.Quiesce(qctx, 500*time.Millisecond)
		qcancel()
	}
	return n.Shutdown(sctx)
}
