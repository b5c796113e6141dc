package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/clusterstore/gossip"
	"github.com/sessionkit/sessionkit/prom/health"
	"github.com/sessionkit/sessionkit/router"
)

func runRouter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sessionkit router", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve clients on")
	members := fs.String("members", "", `backends as "name=URL[,weight]", separated by spaces`)
	membersFile := fs.String("members-file", "", "file of backends, one name=URL[,weight] per line; reloaded when it changes and on SIGHUP")
	adminAddr := fs.String("admin", "127.0.0.1:0", "address of the admin API, metrics and health")
	adminToken := fs.String("admin-token", "", "bearer token of the admin API (default: a random one, printed)")
	keys := fs.String("keys", "token", "routing keys in order of precedence: token, ip, header:NAME, cookie:NAME, query:NAME")
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed")
	bounded := fs.Float64("bounded-load", 0, "cap each backend at this multiple of the mean load, for keys that are not tokens (0: off)")
	healthPath := fs.String("health-path", "/healthz", "path of the active health check")
	healthInterval := fs.Duration("health-interval", time.Second, "interval of the active health checks")
	healthTimeout := fs.Duration("health-timeout", 500*time.Millisecond, "timeout of one health check")
	rise := fs.Int("rise", 2, "passing checks that mark a backend healthy")
	fall := fs.Int("fall", 2, "failing checks that mark a backend unhealthy")
	certFile := fs.String("tls-cert", "", "certificate file: serve HTTPS (and HTTP/2)")
	keyFile := fs.String("tls-key", "", "key file of -tls-cert")
	readHeaderTimeout := fs.Duration("read-header-timeout", 10*time.Second, "longest a client may take to send a request head")
	idleTimeout := fs.Duration("idle-timeout", 2*time.Minute, "how long an idle client connection stays open")
	bodyTimeout := fs.Duration("body-timeout", 60*time.Second, "longest a client may take to send a request body, after its head (408 past it)")
	minBodyRate := fs.Int64("min-body-rate", 240, "slowest a request body may arrive, in bytes a second, after -body-rate-grace (408 below it)")
	bodyRateGrace := fs.Duration("body-rate-grace", 5*time.Second, "how long a request body may take before -min-body-rate applies")
	responseHeaderTimeout := fs.Duration("response-header-timeout", 60*time.Second, "longest to wait for a backend's response head (504 past it)")
	accessLog := fs.Bool("access-log", true, "log every request")
	logf := addLogFlags(fs, "info")
	join := fs.String("join", "", "join the cluster's gossip through these comma-separated addresses and route on its members (instead of -members)")
	gossipAddr := fs.String("gossip", "127.0.0.1:0", "with -join: this router's gossip address; 0.0.0.0:PORT or [::]:PORT for every interface (give -advertise)")
	advertise := fs.String("advertise", "", "with -join: the HOST or HOST:PORT the nodes reach this router's gossip on (default: -gossip's; required when -gossip binds 0.0.0.0 or [::])")
	profile := fs.String("gossip-profile", "lan", "with -join: failure detection timings, as the nodes': lan, wan or local")
	caFile := fs.String("ca-file", "", "PEM file of the CAs that sign https:// members' certificates (default: the system's)")
	clientCert := fs.String("client-cert", "", "certificate file (PEM) the router presents to https:// members that ask for one")
	clientKey := fs.String("client-key", "", "key file of -client-cert (PEM)")
	clusterKey := fs.String("cluster-key", "", "with -join: the cluster key, 64 hex digits")
	name := fs.String("name", fmt.Sprintf("router-%d", os.Getpid()), "with -join: this router's name in the gossip")
	if err := parseSecrets(fs, args, "cluster-key", "admin-token"); err != nil {
		return err
	}
	// Access log lines are batched off the request path; the other
	// lines are written at once, after them.
	logs := newLogBuffer(stderr)
	defer logs.Close()
	log, err := logf.logger(logs.Direct())
	if err != nil {
		return err
	}
	cfg := router.Config{
		Keys:        strings.Split(*keys, ","),
		BoundedLoad: *bounded,

		RequestBodyTimeout:    *bodyTimeout,
		MinBodyRate:           *minBodyRate,
		BodyRateGrace:         *bodyRateGrace,
		ResponseHeaderTimeout: *responseHeaderTimeout,

		Health: router.HealthConfig{Path: *healthPath, Interval: *healthInterval, Timeout: *healthTimeout, Rise: *rise, Fall: *fall},
		Logger: log,
	}
	if *accessLog {
		cfg.AccessLog, _ = logf.logger(logs.Buffered())
	}
	if cfg.BackendTLS, err = backendTLS(*caFile, *clientCert, *clientKey); err != nil {
		return err
	}
	if cfg.TrustedProxies, err = parsePrefixes("trusted-proxies", *trusted); err != nil {
		return err
	}
	var list []router.Member
	if *join == "" {
		if list, err = loadMembers(*members, *membersFile); err != nil {
			return err
		}
	} else if *members != "" || *membersFile != "" {
		return errors.New("give -join or a member list, not both")
	}
	rt, err := router.New(cfg, list)
	if err != nil {
		return err
	}
	defer rt.Close()
	if *join == "" {
		var stray []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "gossip", "advertise", "gossip-profile", "cluster-key", "name":
				stray = append(stray, "-"+f.Name)
			}
		})
		if len(stray) > 0 {
			return fmt.Errorf("%s: only with -join (a router that routes on a cluster's gossip)", strings.Join(stray, ", "))
		}
	}
	var ms *gossip.Membership
	if *join != "" {
		timing, err := gossip.Profile(*profile)
		if err != nil {
			return fmt.Errorf("-gossip-profile: %w", err)
		}
		ms, err = joinGossip(ctx, rt, gossip.Config{
			Self: gossip.Member{Name: *name, Role: gossip.RoleRouter}, Bind: *gossipAddr, Advertise: *advertise,
			Join: strings.Split(*join, ","), Timing: timing, Logger: log,
		}, *clusterKey)
		if err != nil {
			return err
		}
		defer ms.Leave(time.Second)
	}
	given := *adminToken != ""
	if !given {
		b := make([]byte, 16)
		rand.Read(b)
		*adminToken = hex.EncodeToString(b)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	aln, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           rt,
		ReadHeaderTimeout: *readHeaderTimeout,
		IdleTimeout:       *idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	fast := &router.Server{Router: rt, HTTP: srv}
	addrs := map[string]any{"listen": boundAddr(*listen, ln.Addr()), "admin": boundAddr(*adminAddr, aln.Addr())}
	if ms != nil {
		addrs["gossip_bound"], addrs["gossip"] = ms.BoundAddr(), ms.Addr()
	}
	adminMux := http.NewServeMux()
	adminMux.Handle("GET /addresses", bearer(*adminToken, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(addrs)
	})))
	adminMux.Handle("/", rt.AdminHandler(*adminToken))
	admin := health.AdminServer(adminMux)
	errc := make(chan error, 2)
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
		go func() { errc <- srv.ServeTLS(ln, *certFile, *keyFile) }()
	} else {
		go func() { errc <- fast.Serve(ln) }()
	}
	go func() { errc <- admin.Serve(aln) }()
	fmt.Fprintf(stdout, "router: %s://%s\n", scheme, ln.Addr())
	// The token is shown only when the router made it: one the user gave
	// is a secret the user already has.
	shown := *adminToken
	if given {
		shown = "(given)"
	}
	fmt.Fprintf(stdout, "admin: http://%s token %s\n", aln.Addr(), shown)

	if *membersFile != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go rt.WatchMembersFile(ctx, *membersFile, time.Second, hup)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin.Shutdown(sctx)
	return fast.Shutdown(sctx) // drains requests in flight
}

// loadMembers reads the member list from the flag or the file.
func loadMembers(list, file string) ([]router.Member, error) {
	switch {
	case list != "" && file != "":
		return nil, errors.New("give -members or -members-file, not both")
	case file != "":
		members, err := router.ReadMembersFile(file)
		if err != nil {
			return nil, fmt.Errorf("-members-file: %w", err)
		}
		return members, nil
	default:
		return parseMembers("members", list)
	}
}

// bearer lets through requests that carry "Authorization: Bearer token".
func bearer(token string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// backendTLS returns the TLS configuration for https:// members: the CAs
// of caFile (else the system's), and the client certificate, if any.
func backendTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("give -client-cert and -client-key together")
	}
	if caFile == "" && certFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca-file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-file %s: no PEM certificate in it", caFile)
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("-client-cert, -client-key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// joinGossip makes the router a non-storing member of the cluster's
// gossip and routes on the storing members it sees: the same members, so
// the same ring, as every node.
func joinGossip(ctx context.Context, rt *router.Router, cfg gossip.Config, keyHex string) (*gossip.Membership, error) {
	key, err := parseKey(keyHex)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	update := func(members []gossip.Member) {
		var list []router.Member
		for _, m := range members {
			if m.Routable() {
				list = append(list, router.Member{Name: m.Name, URL: m.HTTP, Weight: m.Weight})
			}
		}
		if err := rt.SetMembers(list); err != nil {
			log.Error("router: members from gossip refused", "err", err)
			return
		}
		log.Info("router: members from gossip", "nodes", len(list))
	}
	cfg.Key = key
	return gossip.Join(ctx, cfg, update)
}
