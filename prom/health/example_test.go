package health_test

import (
	"context"
	"log"
	"net"
	"net/http"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/prom/health"
)

// A node binary of one's own: the application on one listener with
// /healthz and /readyz, and the admin listener with /metrics and the
// reason a node is not ready.
func Example() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	endpoints := health.New(health.Config{
		// A store that can be unreachable says so here, e.g. a
		// Redis store's ping.
		Ready: func(ctx context.Context) error { return nil },
	})
	mgr, err := sessionkit.New(store, sessionkit.Config{Observer: endpoints.Observer()})
	if err != nil {
		log.Fatal(err)
	}
	app := http.NewServeMux()
	endpoints.Register(app) // GET /healthz, GET /readyz
	app.Handle("/", mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Set("seen", true)
	})))

	adminLn, err := net.Listen("tcp", "127.0.0.1:9090") // operators and Prometheus only
	if err != nil {
		log.Fatal(err)
	}
	go health.AdminServer(endpoints.Admin()).Serve(adminLn)
	log.Fatal(http.ListenAndServe(":8080", app))
}
