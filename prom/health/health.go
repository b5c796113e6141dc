// Package health gives a node, a process that serves an application with
// a sessionkit Manager, the endpoints that routers, load balancers and
// Prometheus ask it for:
//
//   - GET /healthz, liveness: 200 "ok" while the process serves.
//   - GET /readyz, readiness: 200 "ready" while the session store is
//     usable (Config.Ready), else 503. On the application's listener,
//     which anyone reaches, it gives no reason; on the admin listener it
//     gives the reason, which may name the store's internal addresses.
//     However many requests ask, the store is probed at most once per
//     ProbeReuse.
//   - GET /metrics on the admin listener: the registry's metrics, with
//     the Manager's store operations (Node.Observer) and the Go runtime's
//     and the process's.
//
// Mount Public on the application's mux, serve Admin on a listener of
// its own (loopback, or a private network), for example with
// AdminServer.
package health

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionkit/sessionkit/prom"
)

// Config configures a node's endpoints. Its zero value works: always
// ready, metrics on a new registry, log lines to slog.Default().
type Config struct {
	// Ready reports whether the session store is usable (reachable,
	// warm); /readyz answers 503 while it returns an error. It is given
	// ReadyTimeout, and run at most once per ProbeReuse. Default nil:
	// always ready.
	Ready func(ctx context.Context) error
	// Registry holds the node's metrics; /metrics serves it. The Go and
	// process collectors are registered on it. Default: a new registry.
	Registry *prometheus.Registry
	// Logger receives a line at each change of readiness, with the
	// reason when the node turns not ready. Default slog.Default().
	Logger *slog.Logger
}

// Node is a node's health, readiness and metrics endpoints. Its methods
// may be called concurrently.
type Node struct {
	reg   *prometheus.Registry
	probe *Probe

	observerOnce sync.Once
	observer     *prom.Observer
}

// New returns the endpoints of a node configured by cfg.
func New(cfg Config) *Node {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	// A registry that has them already (a second node, the
	// application's own) keeps its own.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			panic(err)
		}
	}
	return &Node{reg: reg, probe: NewProbe(cfg.Ready, cfg.Logger)}
}

// Registry returns the registry /metrics serves, for the application's
// own metrics.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Observer returns the Manager's observer (sessionkit.Config.Observer)
// that counts and times its store operations on the node's registry.
// Every call returns the same observer.
func (n *Node) Observer() *prom.Observer {
	n.observerOnce.Do(func() { n.observer = prom.New(n.reg) })
	return n.observer
}

// Probe returns the readiness probe that both /readyz share.
func (n *Node) Probe() *Probe { return n.probe }

// Live is the handler of GET /healthz: 200 "ok".
func Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
	})
}

// Metrics returns the handler of GET /metrics.
func (n *Node) Metrics() http.Handler { return promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}) }

// Register adds GET /healthz and GET /readyz, without the reason, to the
// application's mux.
func (n *Node) Register(mux *http.ServeMux) {
	mux.Handle("GET /healthz", Live())
	mux.Handle("GET /readyz", n.probe)
}

// Admin returns the handler of the admin listener: GET /healthz, GET
// /readyz with the reason, and GET /metrics. It checks no credentials:
// serve it where only operators and Prometheus reach it, or wrap it.
func (n *Node) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", Live())
	mux.Handle("GET /readyz", n.probe.Detail())
	mux.Handle("GET /metrics", n.Metrics())
	return mux
}

// AdminServer returns a server for an admin listener with h as its
// handler, bounded so that a client that sends or reads slowly cannot
// hold a connection (and its goroutine) open: 10 s to send a request
// head, 30 s for the whole request and for the response, one minute
// idle, 64 KiB of head.
func AdminServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
