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
	// Lease is how long a successful exchange of views with a key's
	// backup (with no backups, with a majority of the nodes) lets this
	// node serve and write the key. It must be shorter than the failure
	// detection: a node cut off or paused stops serving its keys before
	// the others take them over. Default 1 s.
	Lease time.Duration
	// TombstoneTTL is how long a deleted session's tombstone outlives
	// it, longer than any message can be late. Default 10 minutes.
	TombstoneTTL time.Duration
	// MaxSessions bounds the sessions the node holds, owned and backed
	// up, as memstore.Config.MaxSessions bounds a memstore: anonymous
	// sessions are evicted first, a logged-in one only when the node
	// holds no anonymous session. An eviction is the node's alone (see
	// the package doc). Default 1,000,000; negative means no bound.
	MaxSessions int
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
	boot    int64 // this process's Member.Boot
	table   *table
	members atomic.Pointer[Membership]
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

	peersMu sync.Mutex
	peers   map[string]*peer // by data address

	draining sync.Once

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
	if cfg.Weight <= 0 {
		cfg.Weight = 1
	}
	if cfg.RPCTimeout <= 0 {
		cfg.RPCTimeout = 2 * time.Second
	}
	if cfg.FailoverWait <= 0 {
		cfg.FailoverWait = 10 * time.Second
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = LocalTiming
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Second
	}
	if detect := time.Duration(cfg.Timing.SuspicionMult) * cfg.Timing.ProbeInterval; cfg.Lease >= detect {
		return nil, fmt.Errorf("clusterstore: the lease (%v) must be shorter than failure detection (%v)", cfg.Lease, detect)
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
		cfg: cfg, boot: time.Now().UnixNano(), table: newTable(cfg.TombstoneTTL, cfg.MaxSessions), client: newClient(clientTLS), ln: ln,
		metrics: newMetrics(cfg.Registry), peers: map[string]*peer{}, leases: map[string]time.Time{}, round: time.Now(),
		resync: make(chan struct{}, 1), rewarm: make(chan struct{}, 1), renewal: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	s.life, s.end = context.WithCancel(context.Background())
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
	self := Member{Name: cfg.Name, Role: "node", Data: ln.Addr().String(), HTTP: cfg.HTTP, Weight: cfg.Weight, Boot: s.boot}
	s.wg.Add(3)
	go s.background()
	go s.renewLeases()
	go s.warming()
	members, err := Join(ctx, MembershipConfig{Self: self, Bind: cfg.Gossip, Join: cfg.Join, Key: cfg.Key, Timing: cfg.Timing, Logger: cfg.Logger}, s.gossiped)
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

// Drain prepares the node's leave: it takes the node off the ring, tells
// every node at once rather than at gossip's pace (routers, which only
// gossip, stop sending it new requests within a few gossip rounds), and
// hands every session it holds to the nodes that hold it from then on,
// waiting (bounded by ctx) for their acks. A graceful leave loses no
// session, even with no backups. The node still answers reads of its
// copies and forwards requests until Close. Close drains first. Drain
// may be called more than once: each call hands every session over
// again, so a drain cut short by its ctx can be finished.
func (s *Store) Drain(ctx context.Context) error {
	m := s.members.Load()
	if m == nil {
		return nil
	}
	s.draining.Do(func() {
		if err := m.update(func(self *Member) { self.Draining = true }); err != nil {
			s.cfg.Logger.Warn("clusterstore: gossiping the drain", "err", err)
		}
		s.learn(m.vector())
	})
	s.exchangeAll(ctx)
	return s.handOff(ctx)
}

// handOff gives every session this node holds to the nodes that hold it
// under the current view, which no longer has this node on its ring.
func (s *Store) handOff(ctx context.Context) error {
	v := s.view.Load()
	if v.ring == nil {
		return nil
	}
	var pending []chan error
	s.settle()
	for h := range s.table.hashes() {
		m, ok := s.table.full(h)
		if !ok {
			continue
		}
		for _, name := range v.owners(h, s.copies()) {
			done := make(chan error, 1)
			s.peer(v.nodes[name].Data).send(m, done)
			pending = append(pending, done)
		}
	}
	failed := 0
	for _, done := range pending {
		select {
		case err := <-done:
			if err != nil {
				failed++
			}
		case <-ctx.Done():
			s.cfg.Logger.Warn("clusterstore: hand-off timed out", "copies", len(pending))
			return ctx.Err()
		}
	}
	s.cfg.Logger.Info("clusterstore: handed sessions over before leaving", "copies", len(pending), "failed", failed)
	if failed > 0 {
		return fmt.Errorf("clusterstore: %d of %d copies not handed over", failed, len(pending))
	}
	return nil
}

// copies is how many nodes hold each session: owner and backups.
func (s *Store) copies() int {
	if s.cfg.Backups == AllToAll {
		return 1 << 30
	}
	return s.cfg.Backups + 1
}

// Members returns the live members as this node's gossip sees them.
func (s *Store) Members() []Member {
	if m := s.members.Load(); m != nil {
		return m.Members()
	}
	return nil
}

// owners returns the key's owner and backups under the current view.
func (s *Store) owners(h [32]byte) ([]string, *view) {
	v := s.view.Load()
	return v.owners(h, s.copies()), v
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

// maxAttempts bounds how often one operation follows a key that moves.
const maxAttempts = 4

// at runs an operation at the key's owner. When this node owns the key
// under its view and holds the key's lease, local runs it here, after
// reconciling the key if this node is warming. Otherwise the operation is
// forwarded over the data plane to path at the owner, with body; the node
// that receives it checks ownership under its own view (which the data
// plane has made equal to the sender's) and forwards it again if needed,
// at most maxHops times in all. An owner that crashed is waited for (up to
// FailoverWait) until gossip names the next; unless fallback, given,
// answers meanwhile.
func (s *Store) at(ctx context.Context, h [32]byte, path string, body func() enc, local func(backups []string) (enc, error), fallback func(owners []string) ([]byte, error)) ([]byte, error) {
	attempt := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		owners, v := s.owners(h)
		if len(owners) == 0 {
			return nil, unavailable(ErrNoNodes)
		}
		if owners[0] == s.cfg.Name {
			if !s.holds(v, owners) {
				if err := s.awaitLease(ctx, h); err != nil {
					return nil, err
				}
				continue // awaitLease is bounded: no attempt spent
			}
			attempt++
			if err := s.reconcile(ctx, h, v); err != nil {
				return nil, classify(err)
			}
			out, err := s.locally(local, owners[1:])
			if errors.Is(err, sessionkit.ErrNotFound) && s.adopt(ctx, h, v) {
				out, err = s.locally(local, owners[1:])
			}
			if errors.Is(err, errNotOwner) {
				if attempt < maxAttempts {
					continue
				}
				err = unavailable(err)
			}
			return out, err
		}
		if path == "" {
			return nil, errMoved
		}
		attempt++
		if hopsOf(ctx) >= maxHops {
			return nil, unavailable(errors.New("clusterstore: the nodes' views disagree"))
		}
		s.metrics.forwarded.Inc()
		b, err := s.call(ctx, v.nodes[owners[0]].Data, path, body())
		if err != nil && unreachable(ctx, err, fallback != nil) {
			if fallback != nil {
				if b, ferr := fallback(owners); ferr == nil {
					return b, nil
				}
			}
			if attempt < maxAttempts && s.awaitNewOwner(ctx, h, owners[0]) {
				continue
			}
		}
		return b, classify(err)
	}
}

// locally runs an operation here, as the key's owner.
func (s *Store) locally(local func(backups []string) (enc, error), backups []string) (enc, error) {
	s.writing.RLock()
	defer s.writing.RUnlock()
	return local(backups)
}

// settle waits for the writes in flight at this node as an owner to be
// acknowledged or undone.
func (s *Store) settle() {
	s.writing.Lock()
	//lint:ignore SA2001 a barrier: taking the lock is the point
	s.writing.Unlock()
}

// unreachable reports whether err says the peer did not answer: it
// refused the connection or closed it before the call was sent (it
// crashed), or let the call time out (it hangs). For a read, any broken
// connection will do: a read may run twice.
func unreachable(ctx context.Context, err error, read bool) bool {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return ctx.Err() == nil
	case read:
		var re *rpcError
		return !errors.As(err, &re) // not an answer
	}
	return false
}

// awaitNewOwner waits, up to FailoverWait, until the key moves away from
// an owner that does not answer (gossip declares it dead), and reports
// whether it did. Only then may another node write the key.
func (s *Store) awaitNewOwner(ctx context.Context, h [32]byte, dead string) bool {
	return s.await(ctx, func() bool {
		owners, _ := s.owners(h)
		return len(owners) > 0 && owners[0] != dead
	}) == nil
}

// await polls ok, up to FailoverWait, until it holds. It returns ctx's
// error, errClosed, or errTimeout if ok never held.
func (s *Store) await(ctx context.Context, ok func() bool) error {
	deadline := time.Now().Add(s.cfg.FailoverWait)
	for !ok() {
		if time.Now().After(deadline) {
			return errTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return errClosed
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

var errTimeout = errors.New("clusterstore: timed out")

// write applies a change here, as the key's owner, and replicates it. A
// write that a backup refused (this node no longer owns the key) is
// undone here, and the caller retries it at the new owner.
func (s *Store) write(ctx context.Context, backups []string, apply func() (message, error)) error {
	m, err := apply()
	if err != nil {
		return err
	}
	m.write = true
	err = s.replicate(ctx, m, backups)
	if errors.Is(err, errNotOwner) {
		s.table.undo(m)
	}
	return err
}

func encodeRecord(r *record) enc { return enc{}.u(r.version).meta(&r.meta).values(r.values) }

func decodeRecord(b []byte) (*record, error) {
	d := dec{b: b}
	r := &record{version: d.u(), meta: d.meta(), values: d.values()}
	return r, d.err
}

// Load implements sessionkit.Store. A session whose owner does not answer
// is read from its backups.
func (s *Store) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	h := t.Hash()
	if owners, v := s.owners(h); len(owners) > 0 && owners[0] == s.cfg.Name && s.warm.Load() && s.holds(v, owners) {
		if r, ok := s.table.load(h); ok {
			return sessionkit.Record{Meta: r.meta, Values: r.values}, true, nil
		}
	}
	r, err := s.load(ctx, h)
	switch {
	case errors.Is(err, sessionkit.ErrNotFound):
		return sessionkit.Record{}, false, nil
	case err != nil:
		return sessionkit.Record{}, false, err
	}
	return sessionkit.Record{Meta: r.meta, Values: r.values}, true, nil
}

// load reads a session at its owner.
func (s *Store) load(ctx context.Context, h [32]byte) (*record, error) {
	b, err := s.at(ctx, h, "/rpc/load", func() enc { return enc{}.h(h) }, func([]string) (enc, error) {
		r, ok := s.table.load(h)
		if !ok {
			return nil, sessionkit.ErrNotFound
		}
		return encodeRecord(r), nil
	}, func(owners []string) ([]byte, error) {
		// The owner does not answer. A warm backup's copy holds every
		// acknowledged write: the first backup's, or with AckAll any
		// backup's. A warming backup's answer proves nothing.
		backups := owners[1:]
		if s.cfg.Ack != AckAll {
			backups = backups[:min(1, len(backups))]
		}
		for _, name := range backups {
			if m, ok, err := s.copyAt(ctx, name, h, true); err == nil {
				s.metrics.backupReads.Inc()
				if !ok || m.kind != kindFull {
					return nil, sessionkit.ErrNotFound
				}
				return encodeRecord(&record{version: m.version, meta: m.meta, values: m.values}), nil
			}
		}
		return nil, errors.New("no warm backup answered")
	})
	if errors.Is(err, sessionkit.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return decodeRecord(b)
}

// copyAt returns the copy (record or tombstone) that a node holds. With
// warm, a node that is warming answers with an error instead.
func (s *Store) copyAt(ctx context.Context, name string, h [32]byte, warm bool) (message, bool, error) {
	if name == s.cfg.Name {
		if warm && !s.warm.Load() {
			return message{}, false, errWarming
		}
		m, ok := s.table.full(h)
		return m, ok, nil
	}
	v := s.view.Load()
	n, ok := v.nodes[name]
	if !ok {
		return message{}, false, errLeft
	}
	b, err := s.call(ctx, n.Data, "/rpc/copy", enc{}.h(h).flag(warm))
	if errors.Is(classify(err), sessionkit.ErrNotFound) {
		return message{}, false, nil
	}
	if err != nil {
		return message{}, false, err
	}
	d := dec{b: b}
	m := decodeMessage(&d)
	return m, d.err == nil, d.err
}

// gather asks the named nodes, at once, for their copies of a key and
// applies every one: versions decide, and a tombstone wins over older
// data. It reports whether this node then holds the session, and an
// error if a node did not answer.
func (s *Store) gather(ctx context.Context, h [32]byte, names []string) (bool, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for _, name := range names {
		if name == s.cfg.Name {
			continue
		}
		wg.Go(func() {
			m, ok, err := s.copyAt(ctx, name, h, false)
			switch {
			case errors.Is(err, errLeft):
			case err != nil:
				mu.Lock()
				failed = fmt.Errorf("clusterstore: %s did not give its copy: %w", name, err)
				mu.Unlock()
			case ok:
				m.write = false
				s.table.apply(m)
				s.metrics.readThrough.Inc()
			}
		})
	}
	wg.Wait()
	_, ok := s.table.load(h)
	return ok, failed
}

// adopt reads a session this node owns but lacks from the other nodes,
// for a while after a membership change (a node that joined or came back
// owns keys whose sessions are still on their previous holders until they
// are handed over), and keeps it. It reports whether it found the
// session.
func (s *Store) adopt(ctx context.Context, h [32]byte, v *view) bool {
	if time.Since(time.Unix(0, s.changedAt.Load())) > adoptWindow {
		return false
	}
	found, _ := s.gather(ctx, h, v.holders(h))
	return found
}

// adoptWindow is how long after a membership change an owner that misses
// a session looks for it on the other nodes.
const adoptWindow = time.Minute

// Create implements sessionkit.Store.
func (s *Store) Create(ctx context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	return t, s.create(ctx, t.Hash(), rec.Meta, rec.Values)
}

func (s *Store) create(ctx context.Context, h [32]byte, meta sessionkit.Meta, values map[string][]byte) error {
	_, err := s.at(ctx, h, "/rpc/create", func() enc { return enc{}.h(h).meta(&meta).values(values) }, func(backups []string) (enc, error) {
		return nil, s.write(ctx, backups, func() (message, error) { return s.table.create(h, meta, values), nil })
	}, nil)
	return err
}

// Commit implements sessionkit.Store.
func (s *Store) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	return t, s.commit(ctx, t.Hash(), d)
}

func (s *Store) commit(ctx context.Context, h [32]byte, d sessionkit.Delta) error {
	_, err := s.at(ctx, h, "/rpc/commit", func() enc { return encodeDelta(enc{}.h(h), &d) }, func(backups []string) (enc, error) {
		return nil, s.write(ctx, backups, func() (message, error) { return s.table.commit(h, d) })
	}, nil)
	return err
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
		if owners, _ := s.owners(h); len(owners) > 0 && owners[0] == s.cfg.Name {
			_, err := s.at(ctx, h, "", nil, func(backups []string) (enc, error) {
				return nil, s.write(ctx, backups, func() (message, error) {
					return s.table.write(h, func(r *record) (*record, message, error) {
						cur, ok := r.values[key]
						next, err := fn(cur, ok)
						if err != nil {
							return nil, message{}, err
						}
						return r.with(h, key, next, idleDeadline)
					})
				})
			}, nil)
			if !errors.Is(err, errMoved) {
				return t, err
			}
			continue
		}
		// The owner is another node: read there, compute here, and let
		// the owner compare and set.
		r, err := s.load(ctx, h)
		if err != nil {
			return t, err
		}
		cur, ok := r.values[key]
		next, err := fn(cur, ok)
		if err != nil {
			return t, err
		}
		err = s.swap(ctx, h, key, cur, ok, next, idleDeadline)
		if !errors.Is(err, errSwapFailed) {
			return t, err
		}
		time.Sleep(time.Duration(rand.IntN(1+attempt)) * time.Millisecond)
	}
	return t, sessionkit.ErrConflict
}

// swap sets key to next at the owner if its value is still old (absent
// when !oldOK): the compare-and-set of an Update run off the owner.
func (s *Store) swap(ctx context.Context, h [32]byte, key string, old []byte, oldOK bool, next []byte, deadline time.Time) error {
	_, err := s.at(ctx, h, "/rpc/swap", func() enc {
		return enc{}.h(h).s(key).flag(oldOK).b(old).flag(next != nil).b(next).t(deadline)
	}, func(backups []string) (enc, error) {
		return nil, s.write(ctx, backups, func() (message, error) { return s.table.swap(h, key, old, oldOK, next, deadline) })
	}, nil)
	return err
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
	b, err := s.at(ctx, h, "/rpc/take", func() enc { return enc{}.h(h) }, func(backups []string) (enc, error) {
		var r *record
		err := s.write(ctx, backups, func() (message, error) {
			var m message
			var err error
			r, m, err = s.table.take(h)
			return m, err
		})
		if err != nil {
			return nil, err
		}
		return encodeRecord(r), nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return decodeRecord(b)
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, t sessionkit.Token) error {
	if _, err := s.take(ctx, t.Hash()); err != nil && !errors.Is(err, sessionkit.ErrNotFound) {
		return err
	}
	return nil
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
