// Package node assembles one shop node: a session store, a Manager, the
// shop, and an HTTP server, with the health, readiness and metrics
// endpoints of package health (prom/health). The shop's listener serves
// the shop, /healthz (liveness) and /readyz (readiness, without the
// reason); the metrics and the reason are for the node's admin listener
// (Node.Metrics, Node.Readiness), not for the shop's visitors.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/shop"
	"github.com/sessionkit/sessionkit/prom/health"
)

// Config configures a node.
type Config struct {
	// Name is the node's stable name. Default "n1".
	Name string
	// Strategy names the session strategy, for display. Default "memory".
	Strategy string
	// Store keeps the sessions. Required unless App is set.
	Store sessionkit.Store
	// App, when set, is served in place of the shop and its sessions,
	// through the same server, middleware and endpoints: shop.Baseline,
	// the yardstick bench/saturation.sh measures what sessions cost
	// against. Store and Session are then unused, and Node.Manager is
	// nil.
	App http.Handler
	// Listen is the address to serve on. Default "127.0.0.1:0", a free
	// port.
	Listen string
	// Listener, when set, is served instead of listening on Listen.
	Listener net.Listener
	// TLS, when set, serves HTTPS with it (its certificates), for a
	// router that reaches the node across machines. Default nil: plain
	// HTTP.
	TLS *tls.Config
	// URL is the node's URL as others reach it (its advertised
	// address), for URL and the banner. Default: the listener's
	// address.
	URL string
	// Dev serves the development cookie (not Secure, no prefix), for
	// plain HTTP on loopback. Default false: a Secure __Host- cookie, for
	// a node behind a TLS-terminating router.
	Dev bool
	// CookieDomain, when set, shares the session cookie with every
	// subdomain of it. Default: a host-only cookie.
	CookieDomain string
	// Session adjusts the Manager's configuration; its Transport,
	// Observer and Logger are set by the node when left nil.
	Session sessionkit.Config
	// Logger receives the node's log lines. Default slog.Default().
	Logger *slog.Logger
	// Registry, when set, is where the node registers its metrics;
	// Node.Metrics serves it. Default: a new registry.
	Registry *prometheus.Registry
	// Ready reports whether the store is usable (reachable, warm); GET
	// /readyz answers 503 while it returns an error. It is given
	// health.ReadyTimeout, and run at most once per health.ProbeReuse.
	// Default nil: always ready.
	Ready func(ctx context.Context) error
}

// Node is a running shop node.
type Node struct {
	cfg     Config
	health  *health.Node
	ln      net.Listener
	srv     *http.Server
	served  chan error
	last    atomic.Int64 // when the latest request arrived, Unix nanoseconds
	Manager *sessionkit.Manager
}

// Start starts a node; it serves until Shutdown.
func Start(cfg Config) (*Node, error) {
	if cfg.Store == nil && cfg.App == nil {
		return nil, errors.New("node: no store")
	}
	if cfg.Name == "" {
		cfg.Name = "n1"
	}
	if cfg.Strategy == "" {
		cfg.Strategy = "memory"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	endpoints := health.New(health.Config{Ready: cfg.Ready, Registry: cfg.Registry, Logger: cfg.Logger})
	var mgr *sessionkit.Manager
	app := cfg.App
	if app == nil {
		sc := cfg.Session
		if sc.Transport == nil {
			sc.Transport = &sessionkit.CookieTransport{Insecure: cfg.Dev, Domain: cfg.CookieDomain}
		}
		if sc.Observer == nil {
			sc.Observer = endpoints.Observer()
		}
		if sc.Logger == nil {
			sc.Logger = cfg.Logger
		}
		var err error
		if mgr, err = sessionkit.New(cfg.Store, sc); err != nil {
			return nil, err
		}
		app = mgr.Handler(shop.New(shop.Config{Node: cfg.Name, Strategy: cfg.Strategy, Manager: mgr}))
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionkit_shop_requests_total", Help: "Shop requests by status code.",
	}, []string{"code"})
	endpoints.Registry().MustRegister(requests)

	mux := http.NewServeMux()
	endpoints.Register(mux)
	mux.Handle("/", promhttp.InstrumentHandlerCounter(requests, app))

	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, err
		}
	}
	n := &Node{cfg: cfg, health: endpoints, ln: ln, served: make(chan error, 1), Manager: mgr}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	n.srv = &http.Server{
		Handler:           n.arrivals(withNodeHeader(cfg.Name, mux)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() { n.served <- n.srv.Serve(ln) }()
	return n, nil
}

// withNodeHeader names the serving node in every response, so that tests
// and users behind a router see where a request went.
func withNodeHeader(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Sessionkit-Node", name)
		h.ServeHTTP(w, r)
	})
}

// arrivals notes when each request for the shop arrives, for Quiesce;
// health checks and metric scrapes do not count.
func (n *Node) arrivals(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			n.last.Store(time.Now().UnixNano())
		}
		h.ServeHTTP(w, r)
	})
}

// Quiesce waits until no request has arrived for quiet, or until ctx
// ends: before a stop, routers that have learnt the node is leaving stop
// sending, and none then reuses a connection that Shutdown closes.
func (n *Node) Quiesce(ctx context.Context, quiet time.Duration) {
	for {
		idle := time.Since(time.Unix(0, n.last.Load()))
		if idle >= quiet {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(quiet - idle):
		}
	}
}

// Readiness returns the handler of GET /readyz for the node's admin
// listener: 200 "ready", or 503 with the reason. It shares its probe
// with the shop's /readyz.
func (n *Node) Readiness() http.Handler { return n.health.Probe().Detail() }

// Metrics returns the handler of the node's Prometheus metrics, for its
// admin listener.
func (n *Node) Metrics() http.Handler { return n.health.Metrics() }

// URL returns the node's base URL: Config.URL, else its listener's
// address.
func (n *Node) URL() string {
	if n.cfg.URL != "" {
		return n.cfg.URL
	}
	return n.Scheme() + "://" + n.ln.Addr().String()
}

// Scheme returns "https" when the node serves TLS, else "http".
func (n *Node) Scheme() string {
	if n.cfg.TLS != nil {
		return "https"
	}
	return "http"
}

// Banner returns the line that announces the node: "node NAME: URL pid PID".
func (n *Node) Banner(pid int) string {
	return fmt.Sprintf("node %s: %s pid %s", n.cfg.Name, n.URL(), strconv.Itoa(pid))
}

// Shutdown stops accepting requests and waits, until ctx ends, for those in
// flight.
func (n *Node) Shutdown(ctx context.Context) error {
	err := n.srv.Shutdown(ctx)
	if serr := <-n.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
