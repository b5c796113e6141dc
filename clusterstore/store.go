package clusterstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/placement"
	"github.com/sessionkit/sessionkit/ring"
)

// Ack says how many backups must confirm a write before it returns.
type Ack int

const (
	// AckOne waits for the first backup (the default). A write is lost
	// only if the owner and every backup that acknowledged it crash
	// before the others get it.
	AckOne Ack = iota
	// AckNone returns once the owner applied the write; replication is
	// asynchronous. A crash of the owner loses the writes still in its
	// queue (at most the RPC timeout's worth).
	AckNone
	// AckAll waits for every backup. A write is lost only if every copy
	// is.
	AckAll
)

// AllToAll, as Config.Backups, keeps every session on every node, as
// Tomcat's DeltaManager does: for comparison.
const AllToAll = -1

// Config configures a Store.
type Config struct {
	// Name is the node's stable name, hashed on the ring. Required.
	Name string
	// Gossip is the gossip address. Default 127.0.0.1:7946.
	Gossip string
	// Data is the data plane's address. Default 127.0.0.1:7947.
	Data string
	// HTTP is the URL the node serves clients on, gossiped so that
	// routers can find it.
	HTTP string
	// Join lists gossip addresses of members to join through. Empty
	// starts a new cluster.
	Join []string
	// Key is the cluster key (at least 32 bytes): gossip and data plane
	// are encrypted and authenticated with keys derived from it.
	// Required.
	Key []byte
	// Backups is how many other nodes keep a copy of each session: the
	// next nodes on the key's preference list. 0 keeps sessions on their
	// owner only (plain sticky sessions, lost when it crashes);
	// AllToAll keeps them everywhere. Default 0: set it.
	Backups int
	// Ack says how many backups confirm a write before it returns.
	// Default AckOne.
	Ack Ack
	// Weight is the node's share of sessions. Default 1.
	Weight float64
	// Ring configures placement; routers must use the same. Default
	// ring.Config's defaults.
	Ring ring.Config
	// Timing tunes failure detection. Default LocalTiming.
	Timing Timing
	// RPCTimeout bounds one call to another node. Default 2 s.
	RPCTimeout time.Duration
	// FailoverWait bounds how long a write for a session whose owner
	// refuses connections waits for gossip to declare the owner dead, so
	// that the new owner takes it instead of the request failing.
	// Default 10 s.
	FailoverWait time.Duration
	// TombstoneTTL is how long a deleted session's tombstone outlives
	// it, longer than any message can be late. Default 10 minutes.
	TombstoneTTL time.Duration
	// Registry registers the store's Prometheus metrics. Default none.
	Registry prometheus.Registerer
	// Logger receives the store's log lines. Default slog.Default().
	Logger *slog.Logger
}

// Store is a sessionkit.Store whose sessions live in the memory of the
// cluster's nodes: each session on its ring owner, copied to its next
// Backups nodes.
type Store struct {
	cfg     Config
	table   *table
	members *Membership
	view    atomic.Pointer[view]
	client  *http.Client
	srv     *http.Server
	ln      net.Listener
	minter  *placement.Minter
	metrics *metrics

	peersMu sync.Mutex
	peers   map[string]*peer // by data address

	changedAt atomic.Int64 // when the view last changed, Unix nanoseconds
	leaving   atomic.Bool  // Close has begun

	resync  chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	closing sync.Once
}

var (
	_ sessionkit.Store      = (*Store)(nil)
	_ sessionkit.Minter     = (*Store)(nil)
	_ sessionkit.Principals = (*Store)(nil)
)

// view is one membership snapshot with its ring.
type view struct {
	ring  *ring.Ring
	nodes map[string]Member
}

// ErrNoNodes is returned when the store knows no storing node.
var ErrNoNodes = errors.New("clusterstore: no storing node")

var errSwapFailed = errors.New("clusterstore: value changed meanwhile")

// New starts the node's data plane, joins the cluster and returns the
// Store. Close leaves the cluster and stops it.
func New(cfg Config) (*Store, error) {
	if cfg.Name == "" {
		return nil, errors.New("clusterstore: Config.Name is required")
	}
	if cfg.Data == "" {
		cfg.Data = "127.0.0.1:7947"
	}
	if cfg.Weight <= 0 {
		cfg.Weight = 1
	}
	if cfg.RPCTimeout <= 0 {
		cfg.RPCTimeout = 2 * time.Second
	}
	if cfg.FailoverWait <= 0 {
		cfg.FailoverWait = 10 * time.Second
	}
	if cfg.TombstoneTTL <= 0 {
		cfg.TombstoneTTL = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Key) < 32 {
		return nil, fmt.Errorf("clusterstore: the cluster key must have at least 32 bytes, got %d", len(cfg.Key))
	}
	serverTLS, clientTLS, err := tlsConfigs(cfg.Key)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("clusterstore: data plane: %w", err)
	}
	s := &Store{
		cfg: cfg, table: newTable(cfg.TombstoneTTL), client: newClient(clientTLS), ln: ln,
		metrics: newMetrics(cfg.Registry), peers: map[string]*peer{},
		resync: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	s.minter = placement.NewMinter(cfg.Name, func() *ring.Ring { return s.view.Load().ring })
	s.view.Store(&view{nodes: map[string]Member{}})
	s.srv = &http.Server{Handler: s.rpcHandler(), TLSConfig: serverTLS, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 10 * time.Minute,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.ServeTLS(ln, "", "")
	}()
	self := Member{Name: cfg.Name, Role: "node", Data: ln.Addr().String(), HTTP: cfg.HTTP, Weight: cfg.Weight}
	s.wg.Add(1)
	go s.background()
	s.members, err = Join(MembershipConfig{Self: self, Bind: cfg.Gossip, Join: cfg.Join, Key: cfg.Key, Timing: cfg.Timing, Logger: cfg.Logger}, s.setMembers)
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close leaves the cluster, stops the data plane and the background work,
// and waits for them. It may be called more than once.
func (s *Store) Close() error {
	s.closing.Do(func() {
		if s.members != nil {
			s.leaving.Store(true) // refuse sessions handed back to this node
			s.handOff()
			s.members.Leave(300 * time.Millisecond)
		}
		close(s.stop)
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

// handOff gives every session this node holds to the nodes that will hold
// it once this node has left, and waits (bounded) for their acks: a
// graceful leave loses no session, even with no backups.
func (s *Store) handOff() {
	v := s.view.Load()
	var rest []ring.Member
	for name, m := range v.nodes {
		if name != s.cfg.Name {
			rest = append(rest, ring.Member{Name: name, Weight: m.Weight})
		}
	}
	if len(rest) == 0 {
		return
	}
	r, err := ring.New(s.cfg.Ring, rest)
	if err != nil {
		return
	}
	n := s.cfg.Backups + 1
	if s.cfg.Backups == AllToAll || n > len(rest) {
		n = len(rest)
	}
	var pending []chan error
	for h := range s.table.hashes() {
		m, ok := s.table.full(h)
		if !ok {
			continue
		}
		for _, name := range r.Owners(h[:], n, make([]string, 0, n)) {
			done := make(chan error, 1)
			s.peer(v.nodes[name].Data).send(m, done)
			pending = append(pending, done)
		}
	}
	deadline := time.After(2 * s.cfg.RPCTimeout)
	failed := 0
	for _, done := range pending {
		select {
		case err := <-done:
			if err != nil {
				failed++
			}
		case <-deadline:
			s.cfg.Logger.Warn("clusterstore: hand-off timed out", "sessions_pending", len(pending))
			return
		}
	}
	s.cfg.Logger.Info("clusterstore: handed sessions over before leaving", "copies", len(pending), "failed", failed)
}

// Members returns the live members as this node sees them.
func (s *Store) Members() []Member {
	if s.members == nil {
		return nil
	}
	return s.members.Members()
}

// setMembers rebuilds the ring from the storing members and schedules a
// resync.
func (s *Store) setMembers(members []Member) {
	v := &view{nodes: map[string]Member{}}
	var rm []ring.Member
	for _, m := range members {
		if m.Role != "node" {
			continue
		}
		v.nodes[m.Name] = m
		rm = append(rm, ring.Member{Name: m.Name, Weight: m.Weight})
	}
	if len(rm) > 0 {
		r, err := ring.New(s.cfg.Ring, rm)
		if err != nil {
			s.cfg.Logger.Error("clusterstore: ring", "err", err)
			return
		}
		v.ring = r
	}
	s.view.Store(v)
	s.changedAt.Store(time.Now().UnixNano())
	s.metrics.members.Set(float64(len(v.nodes)))
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// owners returns the key's owner and backups under the current view.
func (s *Store) owners(h [32]byte) ([]string, *view) {
	n := s.cfg.Backups + 1
	if s.cfg.Backups == AllToAll {
		n = 1 << 30
	}
	return s.ownersN(h, n)
}

// ownersN returns the key's first n nodes under the current view.
func (s *Store) ownersN(h [32]byte, n int) ([]string, *view) {
	v := s.view.Load()
	if v.ring == nil {
		return nil, v
	}
	n = min(n, len(v.nodes))
	return v.ring.Owners(h[:], n, make([]string, 0, n)), v
}

// Mint implements sessionkit.Minter: a token this node owns.
func (s *Store) Mint(ctx context.Context) (sessionkit.Token, error) {
	if s.view.Load().ring == nil {
		return "", ErrNoNodes
	}
	return s.minter.Mint(ctx)
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
	case errors.Is(err, context.Canceled):
		return err
	default:
		return fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, err)
	}
}

// Load implements sessionkit.Store. A session whose owner does not answer
// is read from its backups.
func (s *Store) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	h := t.Hash()
	owners, v := s.owners(h)
	if len(owners) == 0 {
		return sessionkit.Record{}, false, fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, ErrNoNodes)
	}
	var firstErr error
	for i, name := range owners {
		var r *record
		var err error
		if name == s.cfg.Name {
			if i == 0 {
				r = s.ownerLoad(ctx, h)
			} else {
				r, _ = s.table.load(h)
			}
		} else {
			path := "/rpc/load"
			if i > 0 {
				path = "/rpc/read" // a backup's copy
			}
			r, err = s.remoteLoad(ctx, v.nodes[name].Data, path, h)
		}
		if err == nil {
			if r == nil {
				return sessionkit.Record{}, false, nil
			}
			return sessionkit.Record{Meta: r.meta, Values: r.values}, true, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
		s.metrics.backupReads.Inc()
	}
	if errors.Is(firstErr, syscall.ECONNREFUSED) && s.awaitNewOwner(ctx, h, owners[0]) {
		return s.Load(ctx, t) // no copy answered: ask the owner gossip names next
	}
	return sessionkit.Record{}, false, classify(firstErr)
}

func (s *Store) remoteLoad(ctx context.Context, addr, path string, h [32]byte) (*record, error) {
	b, err := s.call(ctx, addr, path, enc{}.h(h))
	if err != nil {
		if errors.Is(classify(err), sessionkit.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	d := dec{b: b}
	r := &record{version: d.u(), meta: d.meta(), values: d.values()}
	return r, d.err
}

// at runs a write at the key's owner: local runs it here, path names the
// RPC that runs it there. It returns the contract's errors.
func (s *Store) at(ctx context.Context, h [32]byte, local func(backups []string) error, path string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	owners, v := s.owners(h)
	if len(owners) == 0 {
		return fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, ErrNoNodes)
	}
	if owners[0] == s.cfg.Name {
		err := local(owners[1:])
		if errors.Is(err, sessionkit.ErrNotFound) && s.adopt(ctx, h) {
			err = local(owners[1:])
		}
		return err
	}
	s.metrics.forwarded.Inc()
	_, err := s.call(ctx, v.nodes[owners[0]].Data, path, body)
	if errors.Is(err, syscall.ECONNREFUSED) && s.awaitNewOwner(ctx, h, owners[0]) {
		return s.at(ctx, h, local, path, body) // the node retries, not the client
	}
	return classify(err)
}

// warming is how long after a membership change an owner that misses a
// session reads it through from the key's other nodes: a node that joined
// or came back owns keys whose sessions are still on their previous owner
// until rebalancing hands them over.
const warming = time.Minute

// ownerLoad loads a session this node owns, reading it through from its
// previous holders if it lacks it.
func (s *Store) ownerLoad(ctx context.Context, h [32]byte) *record {
	r, ok := s.table.load(h)
	if !ok && s.adopt(ctx, h) {
		r, _ = s.table.load(h)
	}
	return r
}

// adopt reads a session this node owns but lacks from the key's next
// nodes, during the warming window after a membership change, and keeps
// it. It reports whether it found one. It asks the key's nodes in order of
// preference, nearest (most likely holders) first.
func (s *Store) adopt(ctx context.Context, h [32]byte) bool {
	if time.Since(time.Unix(0, s.changedAt.Load())) > warming {
		return false
	}
	others, v := s.ownersN(h, 1<<30) // every node, nearest first
	for _, name := range others {
		if name == s.cfg.Name {
			continue
		}
		r, err := s.remoteLoad(ctx, v.nodes[name].Data, "/rpc/read", h)
		if err == nil && r != nil {
			s.table.apply(message{kind: kindFull, h: h, version: r.version, meta: r.meta, values: r.values})
			s.metrics.readThrough.Inc()
			return true
		}
	}
	return false
}

// awaitNewOwner waits, up to FailoverWait, until gossip has moved the
// key away from an owner that refuses connections (it crashed), and
// reports whether it did. Only then may another node write the key.
func (s *Store) awaitNewOwner(ctx context.Context, h [32]byte, dead string) bool {
	deadline := time.Now().Add(s.cfg.FailoverWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if owners, _ := s.owners(h); len(owners) > 0 && owners[0] != dead {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Create implements sessionkit.Store.
func (s *Store) Create(ctx context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	h := t.Hash()
	body := enc{}.h(h).meta(&rec.Meta).values(rec.Values)
	return t, s.at(ctx, h, func(backups []string) error {
		return s.replicate(ctx, s.table.create(h, rec.Meta, rec.Values), backups)
	}, "/rpc/create", body)
}

// Commit implements sessionkit.Store.
func (s *Store) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	h := t.Hash()
	return t, s.at(ctx, h, func(backups []string) error {
		m, err := s.table.commit(h, d)
		if err != nil {
			return err
		}
		return s.replicate(ctx, m, backups)
	}, "/rpc/commit", encodeDelta(enc{}.h(h), &d))
}

func encodeDelta(e enc, d *sessionkit.Delta) enc {
	e = e.t(d.IdleDeadline).values(d.Set).u(uint64(len(d.Deleted)))
	for _, k := range d.Deleted {
		e = e.s(k)
	}
	e = e.flag(d.Meta != nil)
	if d.Meta != nil {
		e = e.meta(d.Meta)
	}
	return e
}

func decodeDelta(dd *dec) sessionkit.Delta {
	d := sessionkit.Delta{IdleDeadline: dd.t(), Set: dd.values()}
	n := dd.u()
	if n > uint64(len(dd.b)) {
		dd.fail()
		return d
	}
	for range n {
		d.Deleted = append(d.Deleted, dd.s())
	}
	if dd.flag() {
		m := dd.meta()
		d.Meta = &m
	}
	return d
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, t sessionkit.Token, idleDeadline time.Time) (sessionkit.Token, error) {
	return s.Commit(ctx, t, sessionkit.Delta{IdleDeadline: idleDeadline})
}

// Update implements sessionkit.Store. At the owner, fn runs under the
// table's lock; elsewhere it runs here and the owner compares and sets,
// with bounded retries.
func (s *Store) Update(ctx context.Context, t sessionkit.Token, key string, idleDeadline time.Time, fn sessionkit.UpdateFunc) (sessionkit.Token, error) {
	h := t.Hash()
	for attempt := range 64 {
		if err := ctx.Err(); err != nil {
			return t, err
		}
		owners, v := s.owners(h)
		if len(owners) == 0 {
			return t, fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, ErrNoNodes)
		}
		if owners[0] == s.cfg.Name {
			m, err := s.table.write(h, func(r *record) (*record, message, error) {
				cur, ok := r.values[key]
				next, err := fn(cur, ok)
				if err != nil {
					return nil, message{}, err
				}
				return r.with(h, key, next, idleDeadline)
			})
			if err != nil {
				return t, err
			}
			return t, s.replicate(ctx, m, owners[1:])
		}
		// The owner is another node: read there, compute here, and let
		// the owner compare and set.
		addr := v.nodes[owners[0]].Data
		r, err := s.remoteLoad(ctx, addr, "/rpc/load", h)
		if errors.Is(err, syscall.ECONNREFUSED) && s.awaitNewOwner(ctx, h, owners[0]) {
			continue
		}
		if err != nil {
			return t, classify(err)
		}
		if r == nil {
			return t, sessionkit.ErrNotFound
		}
		cur, ok := r.values[key]
		next, err := fn(cur, ok)
		if err != nil {
			return t, err
		}
		body := enc{}.h(h).s(key).flag(ok).b(cur).flag(next != nil).b(next).t(idleDeadline)
		_, err = s.call(ctx, addr, "/rpc/swap", body)
		if err = classify(err); !errors.Is(err, errSwapFailed) {
			return t, err
		}
		time.Sleep(time.Duration(rand.IntN(1+attempt)) * time.Millisecond)
	}
	return t, sessionkit.ErrConflict
}

// with returns the record with key set to value (nil: deleted) and the
// delta message that replicates it.
func (r *record) with(h [32]byte, key string, value []byte, idleDeadline time.Time) (*record, message, error) {
	d := sessionkit.Delta{IdleDeadline: idleDeadline}
	if value == nil {
		d.Deleted = []string{key}
	} else {
		d.Set = map[string][]byte{key: value}
	}
	next, m := r.next(h, d)
	return next, m, nil
}

// Renew implements sessionkit.Store: the session is taken from the old
// token's owner and created under the new token at its owner.
func (s *Store) Renew(ctx context.Context, old, next sessionkit.Token) (sessionkit.Token, error) {
	r, err := s.take(ctx, old.Hash())
	if err != nil {
		return "", err
	}
	return s.Create(ctx, next, sessionkit.Record{Meta: r.meta, Values: r.values})
}

// take removes the session at its owner and returns it.
func (s *Store) take(ctx context.Context, h [32]byte) (*record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	owners, v := s.owners(h)
	if len(owners) == 0 {
		return nil, fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, ErrNoNodes)
	}
	if owners[0] == s.cfg.Name {
		r, m, err := s.table.take(h)
		if err != nil {
			return nil, err
		}
		return r, s.replicate(ctx, m, owners[1:])
	}
	s.metrics.forwarded.Inc()
	b, err := s.call(ctx, v.nodes[owners[0]].Data, "/rpc/take", enc{}.h(h))
	if errors.Is(err, syscall.ECONNREFUSED) && s.awaitNewOwner(ctx, h, owners[0]) {
		return s.take(ctx, h)
	}
	if err != nil {
		return nil, classify(err)
	}
	d := dec{b: b}
	r := &record{version: d.u(), meta: d.meta(), values: d.values()}
	return r, d.err
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, t sessionkit.Token) error {
	h := t.Hash()
	err := s.at(ctx, h, func(backups []string) error {
		_, m, err := s.table.take(h)
		if err != nil {
			return err
		}
		return s.replicate(ctx, m, backups)
	}, "/rpc/delete", enc{}.h(h))
	if errors.Is(err, sessionkit.ErrNotFound) {
		return nil
	}
	return err
}

// Sessions implements sessionkit.Principals: every node lists the
// principal's sessions it owns.
func (s *Store) Sessions(ctx context.Context, principal string) ([]sessionkit.Info, error) {
	var mu sync.Mutex
	var out []sessionkit.Info
	err := s.eachNode(ctx, func(m Member) error {
		var infos []sessionkit.Info
		if m.Name == s.cfg.Name {
			infos = s.ownedOf(principal)
		} else {
			b, err := s.call(ctx, m.Data, "/rpc/sessions", enc{}.s(principal))
			if err != nil {
				return classify(err)
			}
			d := dec{b: b}
			for n := d.u(); n > 0 && d.err == nil; n-- {
				infos = append(infos, sessionkit.Info{ID: d.s(), Meta: d.meta()})
			}
			if d.err != nil {
				return d.err
			}
		}
		mu.Lock()
		out = append(out, infos...)
		mu.Unlock()
		return nil
	})
	return out, err
}

// RevokeAll implements sessionkit.Principals: every node deletes the
// principal's sessions it owns.
func (s *Store) RevokeAll(ctx context.Context, principal string) (int, error) {
	total := 0
	var mu sync.Mutex
	err := s.eachNode(ctx, func(m Member) error {
		n := 0
		if m.Name == s.cfg.Name {
			n = s.revokeOwned(ctx, principal)
		} else {
			b, err := s.call(ctx, m.Data, "/rpc/revoke", enc{}.s(principal))
			if err != nil {
				return classify(err)
			}
			d := dec{b: b}
			n = int(d.u())
		}
		mu.Lock()
		total += n
		mu.Unlock()
		return nil
	})
	return total, err
}

func (s *Store) eachNode(ctx context.Context, fn func(Member) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := s.view.Load()
	var wg sync.WaitGroup
	errs := make(chan error, len(v.nodes))
	for _, m := range v.nodes {
		wg.Go(func() {
			if err := fn(m); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// ownedOf lists the principal's sessions this node owns.
func (s *Store) ownedOf(principal string) []sessionkit.Info {
	var out []sessionkit.Info
	for _, h := range s.table.ofPrincipal(principal) {
		if owners, _ := s.owners(h); len(owners) > 0 && owners[0] == s.cfg.Name {
			if r, ok := s.table.load(h); ok {
				out = append(out, sessionkit.Info{ID: hex.EncodeToString(h[:]), Meta: r.meta})
			}
		}
	}
	return out
}

func (s *Store) revokeOwned(ctx context.Context, principal string) int {
	n := 0
	for _, h := range s.table.ofPrincipal(principal) {
		owners, _ := s.owners(h)
		if len(owners) == 0 || owners[0] != s.cfg.Name {
			continue
		}
		if _, m, err := s.table.take(h); err == nil {
			s.replicate(ctx, m, owners[1:])
			n++
		}
	}
	return n
}
