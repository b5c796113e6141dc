package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/clusterstore"
	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/internal/redact"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/prom/health"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// storeFlags are the flags that choose and configure a session store.
type storeFlags struct {
	store      string
	admin      string
	adminToken string
	cluster    clusterFlags
	redis      string
	redisNear  bool
	cookieKeys string
	sqlite     string
	postgres   string

	maxSessions int // memory and cluster stores
}

type clusterFlags struct {
	gossip          string
	data            string
	advertiseGossip string
	advertiseData   string
	profile         string
	join            string
	key             string
	backups         string
	ack             string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "memory", "session store: memory, cluster, cookie, redis, sql")
	fs.IntVar(&f.maxSessions, "max-sessions", 1_000_000, "memory, cluster: the most sessions the node holds, its backup copies of other nodes' sessions included; a new session past it evicts an anonymous one, a logged-in one only when the node holds no anonymous session; negative: no bound")
	fs.StringVar(&f.sqlite, "sqlite", "", "sql: the SQLite file the nodes share; cookie: keep revocation generations there")
	fs.StringVar(&f.postgres, "postgres", "", "sql: the PostgreSQL URL (postgres://...) instead of -sqlite (a URL with a password belongs in -postgres-file or the environment)")
	fs.StringVar(&f.redis, "redis", "", "redis: the server's URL (redis://host:port, ?master_set= for Sentinel, several addr= for Cluster); cookie: keep revocation generations there (a URL with a password belongs in -redis-file or the environment)")
	fs.BoolVar(&f.redisNear, "redis-near-cache", true, "redis: serve sessions from a near cache in the node, which Redis invalidates when another node writes them: a request whose session is cached makes one round trip to Redis (the commit), a read-only one none; another node may serve the previous version for the invalidation's delay (see docs/benchmarks.md)")
	fs.StringVar(&f.cookieKeys, "cookie-keys", "", "cookie: sealing keys, \"KEY[,open:KEY...]\", 64 hex digits each")
	fs.StringVar(&f.admin, "admin", "127.0.0.1:0", "address of the node's admin API: /metrics, /readyz with the reason and, with the cluster store, /cluster (loopback by default; behind -admin-token)")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token of the admin API (default: a random one, printed)")
	c := &f.cluster
	fs.StringVar(&c.gossip, "gossip", "127.0.0.1:7946", "cluster: gossip address")
	fs.StringVar(&c.data, "data", "127.0.0.1:0", "cluster: data plane address")
	fs.StringVar(&c.advertiseGossip, "advertise-gossip", "", "cluster: HOST:PORT the other nodes reach gossip on, when its port is mapped to another (NAT, a published container port) (default: -advertise with -gossip's port)")
	fs.StringVar(&c.advertiseData, "advertise-data", "", "cluster: HOST:PORT the other nodes reach the data plane on, when its port is mapped to another (default: -advertise with -data's port)")
	fs.StringVar(&c.profile, "gossip-profile", "lan", "cluster: failure detection and lease timings: lan (one network: a crashed node is declared dead in 4-6 s), wan (across regions: ~30 s) or local (one machine, tests and the demo: ~1.5 s); every node and router of a cluster must use the same")
	fs.StringVar(&c.join, "join", "", "cluster: comma-separated gossip addresses to join through")
	fs.StringVar(&c.key, "cluster-key", "", "cluster: the cluster key, 64 hex digits")
	fs.StringVar(&c.backups, "backups", "1", `cluster: backup copies of each session, or "all"; 0 is plain sticky sessions`)
	fs.StringVar(&c.ack, "ack", "one", "cluster: backups that confirm a write before it returns: none, one, all")
}

// storeEnv is what a store needs to know about its node.
type storeEnv struct {
	name      string
	url       string // the node's URL as routers reach it
	advertise string // the host others reach the node on; "" for the bound ones
	log       *slog.Logger
	reg       *prometheus.Registry
	transport *sessionkit.CookieTransport
}

// openedStore is an open store, its closer and, for stores that have
// one, what the admin API shows.
type openedStore struct {
	store sessionkit.Store
	close func() error
	admin func(list bool) any
	drain func(context.Context) error // hands the node's sessions over before it leaves
	ready func(context.Context) error // nil when the store is always usable
	addrs func() any                  // the cluster store's bound and advertised addresses
}

// readyProbe is the counter a readiness check reads: a round trip to the
// store that changes nothing. It is a read: a store that answers reads
// but refuses writes (a full disk, a read-only replica) still counts as
// ready.
const readyProbe = "sessionkit/readyz"

// reachable returns a readiness check that reads a counter of g, so that
// it fails while g's server is unreachable.
func reachable(g sessionkit.Generations) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := g.Generation(ctx, readyProbe)
		return err
	}
}

// open opens the chosen store.
func (f *storeFlags) open(ctx context.Context, env storeEnv) (openedStore, error) {
	switch f.store {
	case "memory":
		s := memstore.New(memstore.Config{MaxSessions: f.maxSessions})
		return openedStore{store: s, close: s.Close}, nil
	case "cluster":
		cfg, err := f.cluster.config(env)
		if err != nil {
			return openedStore{}, err
		}
		cfg.MaxSessions = f.maxSessions
		s, err := clusterstore.New(ctx, cfg)
		if err != nil {
			return openedStore{}, err
		}
		warm := func(context.Context) error {
			if !s.Warm() {
				return errors.New("the cluster store is warming: pulling the newest copies of its sessions")
			}
			return nil
		}
		return openedStore{store: s, close: s.Close, admin: func(list bool) any { return s.Stats(list) }, drain: s.Drain, ready: warm,
			addrs: func() any { return s.Stats(false).Addresses }}, nil
	case "redis":
		if f.redis == "" {
			return openedStore{}, fmt.Errorf("the redis store needs -redis-file FILE or $SESSIONKIT_REDIS (the URL: redis://...)")
		}
		cfg := redisstore.Config{URL: f.redis}
		if f.redisNear {
			cfg.NearCache = &redisstore.NearCache{}
		}
		s, err := redisstore.New(ctx, cfg)
		if err != nil {
			return openedStore{}, fmt.Errorf("redis at %s: %w", redact.URL(f.redis), err)
		}
		return openedStore{store: s, close: s.Close, ready: reachable(s)}, nil
	case "cookie":
		return f.openCookie(ctx, env)
	case "sql":
		s, err := f.openSQL(ctx)
		if err != nil {
			return openedStore{}, err
		}
		return openedStore{store: s, close: s.Close, ready: reachable(s)}, nil
	default:
		return openedStore{}, fmt.Errorf("unknown store %q (want memory, cluster, cookie, redis or sql)", f.store)
	}
}

// openCookie opens the sealed cookie store; with -redis, -sqlite or
// -postgres, the principals' generations and the ended sessions'
// revocation counters live there, so that "log out everywhere" and
// logout end sessions on the server.
func (f *storeFlags) openCookie(ctx context.Context, env storeEnv) (openedStore, error) {
	if f.cookieKeys == "" {
		return openedStore{}, fmt.Errorf("the cookie store needs -cookie-keys-file FILE or $SESSIONKIT_COOKIE_KEYS, a line such as %s", cookiestore.GenerateKey())
	}
	keys, err := cookiestore.ParseKeys(f.cookieKeys)
	if err != nil {
		return openedStore{}, err
	}
	cfg := cookiestore.Config{Keys: keys, Name: env.transport.CookieName(), MaxTokenLen: env.transport.MaxTokenLen()}
	closeGen := func() error { return nil }
	if f.sqlite != "" || f.postgres != "" {
		gen, err := f.openSQL(ctx)
		if err != nil {
			return openedStore{}, err
		}
		cfg.Generations, closeGen = gen, gen.Close
	} else if f.redis != "" {
		gen, err := redisstore.New(ctx, redisstore.Config{URL: f.redis})
		if err != nil {
			return openedStore{}, fmt.Errorf("redis at %s: %w", redact.URL(f.redis), err)
		}
		cfg.Generations, closeGen = gen, gen.Close
	}
	// With a shared counter store, logout also ends the session on the
	// server: a copy of the cookie taken before no longer opens. It
	// costs one more counter read per request with a sealed cookie, in
	// the same round trip as the principal's generation.
	cfg.RevokeSessions = cfg.Generations != nil
	s, err := cookiestore.New(cfg)
	if err != nil {
		closeGen()
		return openedStore{}, err
	}
	o := openedStore{store: s, close: closeGen}
	if cfg.Generations != nil {
		o.ready = reachable(cfg.Generations)
	}
	return o, nil
}

func (c *clusterFlags) config(env storeEnv) (clusterstore.Config, error) {
	key, err := parseKey(c.key)
	if err != nil {
		return clusterstore.Config{}, err
	}
	timing, err := clusterstore.Profile(c.profile)
	if err != nil {
		return clusterstore.Config{}, fmt.Errorf("-gossip-profile: %w", err)
	}
	cfg := clusterstore.Config{
		Name: env.name, Gossip: c.gossip, Data: c.data, HTTP: env.url, Key: key,
		Advertise: env.advertise, AdvertiseGossip: c.advertiseGossip, AdvertiseData: c.advertiseData, Timing: timing,
		Logger: env.log, Registry: env.reg,
	}
	if c.join != "" {
		cfg.Join = strings.Split(c.join, ",")
	}
	switch c.backups {
	case "all":
		cfg.Backups = clusterstore.AllToAll
	default:
		n, err := strconv.Atoi(c.backups)
		if err != nil || n < 0 {
			return cfg, fmt.Errorf(`-backups %q: want a number or "all"`, c.backups)
		}
		cfg.Backups = n
		if n == 0 {
			cfg.Backups = clusterstore.NoBackups
		}
	}
	switch c.ack {
	case "one":
		cfg.Ack = clusterstore.AckOne
	case "none":
		cfg.Ack = clusterstore.AckNone
	case "all":
		cfg.Ack = clusterstore.AckAll
	default:
		return cfg, fmt.Errorf("-ack %q: want none, one or all", c.ack)
	}
	return cfg, nil
}

// parseKey reads a cluster key: 64 hex digits (32 bytes) or more. A
// passphrase would be guessable; a key must be random.
func parseKey(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("no cluster key: give -cluster-key-file FILE or set $SESSIONKIT_CLUSTER_KEY (64 hex digits, e.g. from: openssl rand -hex 32)")
	}
	key, err := hex.DecodeString(s)
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("the cluster key must be at least 64 hex digits (32 bytes)")
	}
	return key, nil
}

// adminServer is a running admin API.
type adminServer struct {
	url   string
	token string // "" when it was given, not made
	srv   *http.Server
}

func (a *adminServer) Close() error { return a.srv.Close() }

// adminRoutes are what a node's admin API serves.
type adminRoutes struct {
	metrics http.Handler                // GET /metrics
	ready   http.Handler                // GET /readyz, with the reason when not ready
	stats   func(list bool) any         // GET /cluster and /cluster/sessions, cluster store only
	addrs   func() any                  // GET /addresses: where the node listens, and where others reach it
	drain   func(context.Context) error // POST /cluster/drain, cluster store only
}

// serveAdmin serves a node's admin API, on a listener of its own
// (loopback by default) and behind a bearer token: GET /metrics
// (Prometheus), GET /readyz, GET /addresses and, for the cluster store, GET /cluster
// (members, counts and addresses), GET /cluster/sessions (every session held) and
// POST /cluster/drain (hand every session over and take no new ones,
// before the node is stopped). With no token given it makes a random
// one.
func serveAdmin(addr, token string, routes adminRoutes) (*adminServer, error) {
	made := ""
	if token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		token = hex.EncodeToString(b)
		made = token
	}
	mux := http.NewServeMux()
	auth := func(h http.Handler) http.Handler { return bearer(token, h) }
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.Handle("GET /metrics", auth(routes.metrics))
	mux.Handle("GET /readyz", auth(routes.ready))
	if addrs := routes.addrs; addrs != nil {
		mux.Handle("GET /addresses", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, addrs()) })))
	}
	if stats := routes.stats; stats != nil {
		mux.Handle("GET /cluster", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, stats(false)) })))
		mux.Handle("GET /cluster/sessions", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, stats(true)) })))
	}
	if drain := routes.drain; drain != nil {
		mux.Handle("POST /cluster/drain", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := drain(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			writeJSON(w, routes.stats(false))
		})))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The same bounds as the router's admin API: a client that sends
	// or reads slowly cannot hold a connection (and its goroutine) open.
	srv := health.AdminServer(mux)
	go srv.Serve(ln)
	return &adminServer{url: "http://" + ln.Addr().String(), token: made, srv: srv}, nil
}

// openSQL opens the SQL store named by -postgres or -sqlite. Both
// packages return the one store type they share.
func (f *storeFlags) openSQL(ctx context.Context) (*pgstore.Store, error) {
	switch {
	case f.postgres != "":
		s, err := pgstore.Open(ctx, f.postgres)
		if err != nil {
			return nil, fmt.Errorf("postgres at %s: %w", redact.URL(f.postgres), err)
		}
		return s, nil
	case f.sqlite != "":
		return sqlitestore.Open(ctx, f.sqlite)
	default:
		return nil, fmt.Errorf("the sql store needs -sqlite FILE or -postgres URL")
	}
}

// secretFlags names the store flags that hold secrets; each also reads
// from a file (-NAME-file).
var secretFlags = []string{"cluster-key", "cookie-keys", "admin-token", "redis", "postgres"}
