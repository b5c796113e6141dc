package clusterstore

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/clusterstore/gossip"
	"github.com/sessionkit/sessionkit/clusterstore/internal/clusterkey"
	"github.com/sessionkit/sessionkit/placement"
	"github.com/sessionkit/sessionkit/ring"
)

// Store is a sessionkit.Store whose sessions live in the memory of the
// cluster's nodes: each session on its ring owner, copied to its next
// Backups nodes.
type Store struct {
	cfg     Config
	boot    int64 // this process's Member.Boot
	table   *table
	members atomic.Pointer[gossip.Membership]
	client  *http.Client
	srv     *http.Server
	ln      net.Listener
	minter  *placement.Minter
	metrics *metrics

	viewMu    sync.Mutex // serializes changes of view
	view      atomic.Pointer[view]
	changedAt atomic.Int64 // when the view last changed, Unix nanoseconds

	leaseMu sync.Mutex
	leases  map[string]time.Time // node -> start of the last exchange that agreed on the view
	round   time.Time            // start of the last round of exchanges

	// writing is held shared by each operation at this node as a key's
	// owner, until its write is acknowledged or undone; settle takes it
	// whole before a copy leaves the node, so that no write whose fate
	// is open is ever copied (a refused one must not outlive its undo).
	writing sync.RWMutex

	warmMu  sync.Mutex   // orders warm's changes with warmGen's
	warm    atomic.Bool  // this node holds the newest copy of every key it owns
	warmGen atomic.Int64 // raised each time warming (re)starts
	refuted uint64       // the epoch of the last death of this node it refuted; under viewMu
	apart   atomic.Bool  // the gossip shows alive a node this view holds dead (checkApart)

	peersMu sync.Mutex
	peers   map[string]*peer // by data address

	draining sync.Once

	expiries chan []sessionkit.Expiry // sweeps' expiries, for deliverExpiries

	resync  chan struct{}
	rewarm  chan struct{}
	renewal chan struct{}
	stop    chan struct{}
	life    context.Context // cancelled by Close, with stop
	end     context.CancelFunc
	wg      sync.WaitGroup
	closing sync.Once
}

var (
	_ sessionkit.Store      = (*Store)(nil)
	_ sessionkit.LazyLoader = (*Store)(nil)
	_ sessionkit.Minter     = (*Store)(nil)
	_ sessionkit.Principals = (*Store)(nil)
)

// ErrNoNodes is returned when the store knows no storing node.
var ErrNoNodes = errors.New("clusterstore: no storing node")

var errSwapFailed = errors.New("clusterstore: value changed meanwhile")

// New starts the node's data plane, joins the cluster (giving up when ctx
// ends first) and returns the Store. Close leaves the cluster and stops it.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Name == "" {
		return nil, errors.New("clusterstore: Config.Name is required")
	}
	if cfg.Data == "" {
		cfg.Data = "127.0.0.1:7947"
	}
	switch cfg.Backups {
	case 0:
		cfg.Backups = 1
	case NoBackups:
		cfg.Backups = 0
	}
	if cfg.Backups < AllToAll {
		return nil, fmt.Errorf("clusterstore: Config.Backups %d: want a count, NoBackups or AllToAll", cfg.Backups)
	}
	if cfg.Weight <= 0 {
		cfg.Weight = 1
	}
	if cfg.RPCTimeout <= 0 {
		cfg.RPCTimeout = 2 * time.Second
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = LocalTiming
	}
	detect := cfg.Timing.Detect()
	if cfg.FailoverWait <= 0 {
		cfg.FailoverWait = max(10*time.Second, 2*detect)
	}
	if cfg.Lease <= 0 {
		cfg.Lease = detect * 5 / 6
	}
	if cfg.Lease <= 0 || cfg.Lease >= detect {
		return nil, fmt.Errorf("clusterstore: the lease (%v) must be shorter than failure detection (%v)", cfg.Lease, detect)
	}
	if cfg.TombstoneTTL <= 0 {
		cfg.TombstoneTTL = 10 * time.Minute
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := clusterkey.Check(cfg.Key); err != nil {
		return nil, fmt.Errorf("clusterstore: %w", err)
	}
	serverTLS, clientTLS, err := tlsConfigs(cfg.Key)
	if err != nil {
		return nil, err
	}
	if cfg.Gossip == "" {
		cfg.Gossip = "127.0.0.1:7946"
	}
	// Check what gossip will advertise before anything starts.
	if _, _, err := net.SplitHostPort(cfg.Advertise); err == nil {
		return nil, fmt.Errorf("clusterstore: Advertise %q: a host without a port; a remapped port goes in AdvertiseGossip or AdvertiseData", cfg.Advertise)
	}
	gossipAd := cmp.Or(cfg.AdvertiseGossip, cfg.Advertise)
	if _, _, err := gossip.Advertised(ctx, cfg.Gossip, gossipAd); err != nil {
		return nil, fmt.Errorf("clusterstore: gossip: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("clusterstore: data plane: %w", err)
	}
	dataAd, err := advertisedData(ln.Addr().(*net.TCPAddr), cfg.Advertise, cfg.AdvertiseData)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("clusterstore: data plane: %w", err)
	}
	s := &Store{
		cfg: cfg, boot: time.Now().UnixNano(), table: newTable(cfg.TombstoneTTL, cfg.MaxSessions), client: newClient(clientTLS), ln: ln,
		metrics: newMetrics(cfg.Registry), peers: map[string]*peer{}, leases: map[string]time.Time{}, round: time.Now(),
		resync: make(chan struct{}, 1), expiries: make(chan []sessionkit.Expiry, 16), rewarm: make(chan struct{}, 1), renewal: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	s.life, s.end = context.WithCancel(context.Background())
	s.table.life, s.table.owns = s.life, s.owns
	s.minter = placement.NewMinter(cfg.Name, func() *ring.Ring { return s.view.Load().ring })
	s.view.Store(&view{vec: vector{}, nodes: map[string]Member{}})
	// A node that joins others owns keys whose sessions are elsewhere
	// until it has pulled them; the first node has nothing to pull.
	if len(cfg.Join) == 0 {
		s.warm.Store(true)
		s.metrics.warm.Set(1)
	}
	s.srv = &http.Server{Handler: s.rpcHandler(), TLSConfig: serverTLS, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 10 * time.Minute,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.ServeTLS(ln, "", "")
	}()
	self := Member{Name: cfg.Name, Role: gossip.RoleNode, Data: dataAd, HTTP: cfg.HTTP, Weight: cfg.Weight, Boot: s.boot}
	s.wg.Add(4)
	go s.background()
	go s.deliverExpiries()
	go s.renewLeases()
	go s.warming()
	members, err := gossip.Join(ctx, gossip.Config{Self: self, Bind: cfg.Gossip, Advertise: gossipAd, Join: cfg.Join, Key: cfg.Key, Timing: cfg.Timing, Logger: cfg.Logger}, s.gossiped)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.members.Store(members)
	s.gossiped(nil)
	if !s.warm.Load() {
		s.startWarming()
	}
	return s, nil
}

// advertisedData returns the data plane's address as the others reach it:
// plane ("host:port") when given, else host (or the bound address's) with
// the bound port.
func advertisedData(bound *net.TCPAddr, host, plane string) (string, error) {
	if plane != "" {
		if _, _, err := net.SplitHostPort(plane); err != nil {
			return "", fmt.Errorf("advertise %q: want host:port: %w", plane, err)
		}
		return plane, nil
	}
	if host == "" {
		if bound.IP.IsUnspecified() {
			return "", fmt.Errorf("bind %s: %w", bound, gossip.ErrNoAdvertise)
		}
		return bound.String(), nil
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if err := gossip.CheckReach(bound.IP.String(), host); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(bound.Port)), nil
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

// Close leaves the cluster, stops the data plane and the background work,
// and waits for them. It may be called more than once.
func (s *Store) Close() error {
	s.closing.Do(func() {
		if m := s.members.Load(); m != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 4*s.cfg.RPCTimeout)
			s.Drain(ctx)
			cancel()
			m.Leave(300 * time.Millisecond)
		}
		close(s.stop)
		s.end()
		s.table.expired.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.srv.Shutdown(ctx)
		s.peersMu.Lock()
		for _, p := range s.peers {
			p.close()
		}
		s.peersMu.Unlock()
		s.client.CloseIdleConnections()
	})
	s.wg.Wait()
	return nil
}

// Members returns the live members as this node's gossip sees them.
func (s *Store) Members() []Member {
	if m := s.members.Load(); m != nil {
		return m.Members()
	}
	return nil
}

// classify turns a data plane error into the store contract's errors.
func classify(err error) error {
	var re *rpcError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && re.status == http.StatusNotFound:
		return sessionkit.ErrNotFound
	case errors.As(err, &re) && re.status == http.StatusConflict:
		return errSwapFailed
	case errors.Is(err, context.Canceled), errors.Is(err, sessionkit.ErrUnavailable):
		return err
	default:
		return unavailable(err)
	}
}

func unavailable(err error) error { return fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, err) }

var (
	// errNotOwner: a backup refused a write because, under the view both
	// now hold, the writer does not own the key.
	errNotOwner = errors.New("clusterstore: not the key's owner under the current view")
	// errMoved: the key moved to another node while an operation that
	// cannot be forwarded was starting.
	errMoved = errors.New("clusterstore: the key moved to another node")
	// errLeft: the node is no longer a member.
	errLeft = errors.New("clusterstore: the node left the cluster")
	// errClosed: the store was closed.
	errClosed = unavailable(errors.New("clusterstore: closed"))
)

// Held describes a session a node holds, for the admin API.
type Held struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	Owner   bool   `json:"owner"`
}

// Stats describes what a node holds.
type Stats struct {
	Name     string   `json:"name"`
	Members  []string `json:"members"`
	View     string   `json:"view"`     // the digest of the node's view
	Warm     bool     `json:"warm"`     // false while it pulls its sessions
	Draining bool     `json:"draining"` // handing its sessions over before it leaves
	Owned    int      `json:"owned"`
	Backups  int      `json:"backups"`
	Bytes    int      `json:"bytes"`
	Sessions []Held   `json:"sessions,omitempty"`
	// Addresses are where the node listens and where the others reach
	// it.
	Addresses Addresses `json:"addresses"`
}

// Addresses are a node's bound and advertised addresses.
type Addresses struct {
	GossipBound string `json:"gossip_bound"` // what gossip listens on
	Gossip      string `json:"gossip"`       // what the others reach it on
	DataBound   string `json:"data_bound"`
	Data        string `json:"data"`
	HTTP        string `json:"http"` // the URL gossiped to routers
}

// Stats returns what the node holds; with list, every session too.
func (s *Store) Stats(list bool) Stats {
	st := Stats{Name: s.cfg.Name, View: s.view.Load().digest, Warm: s.warm.Load()}
	st.Addresses = Addresses{DataBound: boundAddr(s.cfg.Data, s.ln.Addr()), HTTP: s.cfg.HTTP}
	if m := s.members.Load(); m != nil {
		self := m.Self()
		st.Draining = self.Draining
		st.Addresses.Data = self.Data
		st.Addresses.Gossip = m.Addr()
		st.Addresses.GossipBound = m.BoundAddr()
	}
	for _, m := range s.Members() {
		st.Members = append(st.Members, m.Name)
	}
	_, st.Bytes = s.table.stats()
	for h, version := range s.table.hashes() {
		owners, _ := s.owners(h)
		owner := len(owners) > 0 && owners[0] == s.cfg.Name
		if owner {
			st.Owned++
		} else {
			st.Backups++
		}
		if list {
			st.Sessions = append(st.Sessions, Held{ID: hex.EncodeToString(h[:]), Version: version, Owner: owner})
		}
	}
	return st
}
