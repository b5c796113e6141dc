package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/clusterstore/gossip"
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
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve on; 0.0.0.0:PORT or [::]:PORT for every interface (with -store cluster, give -advertise)")
	advertise := fs.String("advertise", "", "the host (IP address or DNS name) other machines reach this node on: in the URL gossiped to routers and, with -store cluster, for gossip and the data plane, on their ports. Default: the bound hosts; a cluster node that binds 0.0.0.0 or [::] without it refuses to start, and so does one that advertises a network address while -listen, -gossip or -data binds loopback (their defaults)")
	certFile := fs.String("tls-cert", "", "certificate file (PEM, the chain after the leaf): serve HTTPS, for routers on other machines (-ca-file on the router)")
	keyFile := fs.String("tls-key", "", "key file of -tls-cert (PEM)")
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
	cfg := node.Config{Name: *name, Strategy: *strategy, Listen: *listen, Dev: *dev, Logger: log, Session: session, CookieDomain: *cookieDomain}
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("give -tls-cert and -tls-key together")
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("-tls-cert, -tls-key: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if _, _, err := net.SplitHostPort(*advertise); err == nil {
		return fmt.Errorf("-advertise %q: give the host alone; a remapped port goes in -advertise-gossip or -advertise-data HOST:PORT", *advertise)
	}
	return serveNode(ctx, &sf, cfg, *advertise, stdout)
}

// nodeURL returns the URL routers reach a node on that listens on ln:
// the advertised host, else the bound one, with the bound port. A node
// that binds every interface has no such URL without advertise.
func nodeURL(scheme string, ln net.Listener, advertise string) (string, error) {
	addr := ln.Addr().(*net.TCPAddr)
	host := strings.TrimSuffix(strings.TrimPrefix(advertise, "["), "]")
	if host == "" {
		if addr.IP.IsUnspecified() {
			return "", fmt.Errorf("-listen %s binds every interface: give -advertise HOST, the address routers reach this node on", ln.Addr())
		}
		host = addr.IP.String()
	}
	if err := gossip.CheckReach(addr.IP.String(), host); err != nil {
		return "", fmt.Errorf("-listen: %w", err)
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port)), nil
}

// boundAddr returns the address a listener binds as it was asked for
// (0.0.0.0 stays 0.0.0.0, where Go reports [::]) with the port it took.
func boundAddr(asked string, got net.Addr) string {
	host, _, err := net.SplitHostPort(asked)
	if err != nil {
		return got.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(got.(*net.TCPAddr).Port))
}

// serveNode opens the store, starts the node, prints its banner and serves
// until ctx ends.
func serveNode(ctx context.Context, sf *storeFlags, cfg node.Config, advertise string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.Listener = ln
	cfg.Registry = prometheus.NewRegistry()
	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
	}
	url, err := nodeURL(scheme, ln, advertise)
	if err != nil && (sf.store == "cluster" || advertise != "") {
		return err // gossiped to routers, or asked for: it must reach the node
	}
	if err == nil {
		cfg.URL = url
	}
	transport := &sessionkit.CookieTransport{Insecure: cfg.Dev, Domain: cfg.CookieDomain}
	cfg.Session.Transport = transport
	opened, err := sf.open(ctx, storeEnv{name: cfg.Name, url: url, advertise: advertise, log: cfg.Logger, reg: cfg.Registry, transport: transport})
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
	addrs := func() any {
		a := map[string]any{"listen": boundAddr(cfg.Listen, ln.Addr()), "url": n.URL()}
		if opened.addrs != nil {
			a["cluster"] = opened.addrs()
		}
		return a
	}
	admin, err := serveAdmin(sf.admin, sf.adminToken, adminRoutes{metrics: n.Metrics(), ready: n.Readiness(), stats: opened.admin, drain: opened.drain, addrs: addrs})
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
