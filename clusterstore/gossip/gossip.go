// Package gossip is the membership of a sessionkit cluster: who is in it,
// kept by hashicorp/memberlist's gossip, with its failure detection.
// Every member describes itself with a Member: the cluster store's nodes
// (role RoleNode) with their data-plane and HTTP addresses and ring
// weight, routers (RoleRouter) with their name only.
//
// The cluster store (package clusterstore) joins as a node. A router,
// sessionkit's or one's own, joins as a router, stores nothing, and routes
// on the members it sees: the same members, so the same ring, as every
// node. Join's onChange is called with the live members after every
// change; Member.Routable tells which of them take requests.
//
// Gossip is encrypted and authenticated with a key derived from the
// cluster key, which every member must share.
package gossip

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessionkit/sessionkit/clusterstore/internal/clusterkey"
)

// The roles of members.
const (
	// RoleNode is a storing node: its sessions are placed on the ring.
	RoleNode = "node"
	// RoleRouter is a router: it gossips, stores nothing and is not on
	// the ring.
	RoleRouter = "router"
)

// Member is a node as the gossip shows it.
type Member struct {
	// Name is the node's stable name.
	Name string `json:"name"`
	// Role is RoleNode for a storing node, RoleRouter for a router.
	Role string `json:"role"`
	// Data is the node's data-plane address (nodes only).
	Data string `json:"data,omitempty"`
	// HTTP is the URL the node serves clients on (nodes only).
	HTTP string `json:"http,omitempty"`
	// Weight is the node's ring weight.
	Weight float64 `json:"weight,omitempty"`
	// Boot tells a restarted node from its former self: the time its
	// process joined, in Unix nanoseconds (nodes only).
	Boot int64 `json:"boot,omitempty"`
	// Epoch counts the node's own changes of state since Boot: a drain,
	// or coming back after the others declared it dead.
	Epoch uint64 `json:"epoch,omitempty"`
	// Draining is set while a node hands its sessions over before it
	// leaves: routers send it nothing new and the ring leaves it out.
	Draining bool `json:"draining,omitempty"`
	// Detect is how long the member takes to declare another dead
	// (Timing.Detect), set by Join: members of different timing profiles
	// are told apart and warned of.
	Detect time.Duration `json:"detect,omitempty"`
}

// Routable reports whether a router should send the member requests: a
// storing node that serves clients over HTTP and is not draining (a
// draining node takes nothing new).
func (m Member) Routable() bool { return m.Role == RoleNode && m.HTTP != "" && !m.Draining }

// State is what a member heard of a storing node: its latest description,
// and whether gossip declared it dead.
type State struct {
	Member
	Dead bool
}

// Newer reports whether a is a later state of its member than b: a later
// boot beats an earlier one, then a higher epoch (a member raises its own
// epoch when it drains or refutes its death), then dead beats alive. The
// order does not depend on when a state was heard, so members that hear
// the same states in different orders keep the same newest one.
func (a State) Newer(b State) bool {
	if c := cmp.Or(cmp.Compare(a.Boot, b.Boot), cmp.Compare(a.Epoch, b.Epoch)); c != 0 {
		return c > 0
	}
	return a.Dead && !b.Dead
}

// Config configures a gossip member.
type Config struct {
	// Self describes this member.
	Self Member
	// Bind is the gossip address, "host:port", that this member listens
	// on. Port 0 takes a free port (Addr tells which). An unspecified
	// host (0.0.0.0 or [::]) listens on every interface and needs
	// Advertise. Default 127.0.0.1:7946.
	Bind string
	// Advertise is the address the others reach this member on, "host"
	// or "host:port", when it differs from Bind: behind NAT, in a
	// container or when Bind is an unspecified address. A host name is
	// resolved once, at Join, to its first address. The port defaults to
	// the bound port. Default: Bind.
	Advertise string
	// Join lists the gossip addresses of members to join through.
	Join []string
	// Key is the cluster key, at least 32 bytes. Gossip is encrypted
	// and authenticated with a key derived from it.
	Key []byte
	// Timing tunes failure detection. Default: LocalTiming.
	Timing Timing
	// Logger receives memberlist's log lines at debug level, and a
	// warning for each member of another timing profile. Default
	// slog.Default().
	Logger *slog.Logger
}

// Timing tunes failure detection and gossip. The fields are memberlist's
// of the same names.
type Timing struct {
	// ProbeInterval is how often a member probes another.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for its ack: longer than
	// a round trip between any two members.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect member has to refute
	// before it is declared dead.
	SuspicionMult int
	// GossipInterval is how often a member gossips what changed.
	// Default 100 ms.
	GossipInterval time.Duration
	// PushPullInterval is how often a member exchanges its whole state
	// with another. Default 5 s.
	PushPullInterval time.Duration
	// TCPTimeout bounds a stream connection: a join, a push-pull, an
	// indirect probe. Default 2 s.
	TCPTimeout time.Duration
}

// Detect is the failure detection's time: how long, at least, a crashed
// member takes to be declared dead (memberlist's suspicion timeout for
// fewer than ten members; it grows with the logarithm of their number).
func (t Timing) Detect() time.Duration { return time.Duration(t.SuspicionMult) * t.ProbeInterval }

// The timing profiles, by the network they suit. Every member of a
// cluster, routers included, should use the same.
var (
	// LocalTiming is for one machine: tests and the demo. It detects a
	// crashed member in about two seconds and does not fire falsely on
	// a loaded 2-core machine.
	LocalTiming = Timing{ProbeInterval: 400 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond, SuspicionMult: 3,
		GossipInterval: 100 * time.Millisecond, PushPullInterval: 5 * time.Second, TCPTimeout: 2 * time.Second}
	// LANTiming is memberlist's DefaultLANConfig: machines on one
	// network (a data centre, a Kubernetes cluster). It detects a
	// crashed member in four to six seconds.
	LANTiming = Timing{ProbeInterval: time.Second, ProbeTimeout: 500 * time.Millisecond, SuspicionMult: 4,
		GossipInterval: 200 * time.Millisecond, PushPullInterval: 30 * time.Second, TCPTimeout: 10 * time.Second}
	// WANTiming is memberlist's DefaultWANConfig: members across
	// regions, with round trips up to a few hundred milliseconds. It
	// detects a crashed member in about half a minute.
	WANTiming = Timing{ProbeInterval: 5 * time.Second, ProbeTimeout: 3 * time.Second, SuspicionMult: 6,
		GossipInterval: 500 * time.Millisecond, PushPullInterval: 60 * time.Second, TCPTimeout: 30 * time.Second}
)

// Profiles names the timing profiles: "local", "lan" and "wan".
var Profiles = map[string]Timing{"local": LocalTiming, "lan": LANTiming, "wan": WANTiming}

// Profile returns the timing profile of that name: local, lan or wan.
func Profile(name string) (Timing, error) {
	t, ok := Profiles[name]
	if !ok {
		return Timing{}, fmt.Errorf("gossip: unknown timing profile %q: want local, lan or wan", name)
	}
	return t, nil
}

// withDefaults fills the fields left zero: all of them from LocalTiming
// when t is zero, else the gossip, push-pull and TCP timings.
func (t Timing) withDefaults() Timing {
	if t == (Timing{}) {
		return LocalTiming
	}
	t.GossipInterval = cmp.Or(t.GossipInterval, LocalTiming.GossipInterval)
	t.PushPullInterval = cmp.Or(t.PushPullInterval, LocalTiming.PushPullInterval)
	t.TCPTimeout = cmp.Or(t.TCPTimeout, LocalTiming.TCPTimeout)
	return t
}

// Membership is this process's view of the cluster, kept by gossip.
type Membership struct {
	ml       *memberlist.Memberlist
	bound    string // host:port gossip listens on
	self     Member
	onChange func([]Member)

	log *slog.Logger

	mu      sync.Mutex
	members map[string]Member // alive
	nodes   map[string]State  // storing nodes but this one, dead ones included
	warned  map[string]bool   // members whose other timing profile was logged
	dead    map[string]deadMember
	down    sync.Once
	stopped atomic.Bool
	stop    chan struct{} // closed by Leave and Shutdown: ends reconnect
	done    chan struct{} // closed when reconnect returned
}

// deadMember is a member declared dead (or that left), and where it
// gossiped.
type deadMember struct {
	addr  string
	since time.Time
}

// reconnectFor is how long a member declared dead is called back (as
// Serf's ReconnectTimeout): a member gone longer is forgotten.
const reconnectFor = 24 * time.Hour

// Join starts gossiping and joins the cluster through cfg.Join, giving up
// when ctx ends (it is checked between addresses, and one address takes at
// most Timing.TCPTimeout); onChange gets the live members after every change (and
// once at start, before Join returns); it must not block. With no
// addresses to join through, the member starts a new cluster. A member
// restarted under its name is accepted back at once. Leave (or Shutdown)
// stops the member.
func Join(ctx context.Context, cfg Config, onChange func([]Member)) (*Membership, error) {
	if err := clusterkey.Check(cfg.Key); err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1:7946"
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, p, err := splitAddr(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("gossip: address: %w", err)
	}
	adHost, adPort, err := Advertised(ctx, cfg.Bind, cfg.Advertise)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	cfg.Self.Detect = cfg.Timing.Detect()
	m := &Membership{self: cfg.Self, onChange: onChange, log: cfg.Logger, members: map[string]Member{}, nodes: map[string]State{}, warned: map[string]bool{},
		dead: map[string]deadMember{}, stop: make(chan struct{}), done: make(chan struct{})}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Self.Name
	mc.BindAddr, mc.BindPort = host, p
	// With port 0, memberlist advertises the port it took whatever
	// AdvertisePort says.
	mc.AdvertiseAddr, mc.AdvertisePort = adHost, cmp.Or(adPort, p)
	mc.SecretKey = clusterkey.Derive(cfg.Key, "gossip", 32)
	mc.ProbeInterval = cfg.Timing.ProbeInterval
	mc.ProbeTimeout = cfg.Timing.ProbeTimeout
	mc.SuspicionMult = cfg.Timing.SuspicionMult
	mc.GossipInterval = cfg.Timing.GossipInterval
	mc.PushPullInterval = cfg.Timing.PushPullInterval
	mc.DeadNodeReclaimTime = time.Millisecond // a restarted node may come back under its name at once
	mc.TCPTimeout = cfg.Timing.TCPTimeout
	mc.Delegate = (*delegate)(m)
	mc.Events = (*events)(m)
	mc.Logger = log.New(slogWriter{cfg.Logger}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	m.ml = ml
	m.bound = net.JoinHostPort(host, strconv.Itoa(mc.BindPort)) // memberlist set the port it took
	if err := join(ctx, ml, cfg.Join); err != nil {
		ml.Shutdown()
		return nil, err
	}
	m.changed()
	go m.reconnect(2 * cfg.Timing.Detect())
	return m, nil
}

// reconnect joins, every interval, the members declared dead (or that
// left: those do not answer). memberlist
// never probes nor pushes its state to a member it declared dead, and
// gossips to one only while it has news to spread: without this, the two
// sides of a partition would stay apart for good once it healed, each
// seeing the other dead. A join is a push-pull: each side learns that the
// other declared it dead and refutes it, and the second one merges them.
func (m *Membership) reconnect(interval time.Duration) {
	defer close(m.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		var addrs []string
		m.mu.Lock()
		for name, d := range m.dead {
			if time.Since(d.since) > reconnectFor {
				delete(m.dead, name)
				continue
			}
			addrs = append(addrs, d.addr)
		}
		m.mu.Unlock()
		for _, addr := range addrs {
			select {
			case <-m.stop:
				return
			default:
			}
			m.ml.Join([]string{addr}) // one that is really gone does not answer
		}
	}
}

// ErrNoAdvertise is returned when a member binds an unspecified address
// (0.0.0.0 or [::]) and is given no address to advertise: the others
// could not reach it on the address it binds.
var ErrNoAdvertise = errors.New("an unspecified bind address (0.0.0.0 or [::]) needs an address to advertise")

// Advertised returns the host (an IP address) and port others reach a
// member on that binds bind and advertises advertise ("host" or
// "host:port", or "" for bind's host). A host name is resolved, within
// ctx, to its first address. Port 0 means the bound port. It is
// ErrNoAdvertise when bind's host is unspecified and advertise empty.
func Advertised(ctx context.Context, bind, advertise string) (host string, port int, err error) {
	bhost, _, err := splitAddr(bind)
	if err != nil {
		return "", 0, fmt.Errorf("address: %w", err)
	}
	if advertise == "" {
		if ip := net.ParseIP(bhost); bhost == "" || ip != nil && ip.IsUnspecified() {
			return "", 0, fmt.Errorf("bind %s: %w", bind, ErrNoAdvertise)
		}
		advertise = bhost
	}
	host = advertise
	if h, p, err := splitAddr(advertise); err == nil {
		host, port = h, p
	} else if advertise[0] == '[' && advertise[len(advertise)-1] == ']' {
		host = advertise[1 : len(advertise)-1] // "[::1]", a bracketed host without a port
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return "", 0, fmt.Errorf("advertise %s: an unspecified address reaches nobody", advertise)
		}
		if err := CheckReach(bhost, ip.String()); err != nil {
			return "", 0, err
		}
		return ip.String(), port, nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", 0, fmt.Errorf("advertise %s: %w", advertise, err)
	}
	if len(ips) == 0 {
		return "", 0, fmt.Errorf("advertise %s: the name has no address", advertise)
	}
	return ips[0].IP.String(), port, nil
}

// CheckReach refuses to advertise an address other machines use (not
// loopback) for a listener bound to loopback, which they cannot reach:
// the mistake of giving an address to advertise and keeping a loopback
// default for the bind address. bind and advertised are hosts; a name
// is not checked.
func CheckReach(bind, advertised string) error {
	b, a := net.ParseIP(bind), net.ParseIP(advertised)
	if b != nil && a != nil && b.IsLoopback() && !a.IsLoopback() {
		return fmt.Errorf("bound to %s, which only this machine reaches, but advertising %s: bind 0.0.0.0 (or [::], or %s)", bind, advertised, advertised)
	}
	return nil
}

// splitAddr splits "host:port".
func splitAddr(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("port %q", port)
	}
	return host, p, nil
}

// join contacts every address in turn, as memberlist's Join does, but
// checks ctx before each: it succeeds when one answered.
func join(ctx context.Context, ml *memberlist.Memberlist, addrs []string) error {
	var errs []error
	joined := 0
	for _, addr := range addrs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("gossip: join %v: %w", addrs, err)
		}
		if _, err := ml.Join([]string{addr}); err != nil {
			errs = append(errs, err)
		} else {
			joined++
		}
	}
	if joined == 0 && len(addrs) > 0 {
		return fmt.Errorf("gossip: join %v: %w", addrs, errors.Join(errs...))
	}
	return nil
}

// Members returns the live members, sorted by name.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, mb := range m.members {
		out = append(out, mb)
	}
	slices.SortFunc(out, func(a, b Member) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// Self returns this member as it gossips itself.
func (m *Membership) Self() Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self
}

// Addr returns the gossip address this member is reached on, which
// others may join through: the advertised one.
func (m *Membership) Addr() string { return m.ml.LocalNode().Address() }

// BoundAddr returns the gossip address this member listens on.
func (m *Membership) BoundAddr() string { return m.bound }

// Nodes returns the newest state heard of every storing node, the dead
// ones included, by name; this member, when it is a node, as it is now.
// The map is the caller's.
func (m *Membership) Nodes() map[string]State {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := maps.Clone(m.nodes)
	if m.self.Role == RoleNode {
		v[m.self.Name] = State{Member: m.self}
	}
	return v
}

// ErrStopped is returned by Update once the member left or was shut down.
var ErrStopped = errors.New("gossip: stopped")

// Update changes how this member describes itself, raises its epoch and
// gossips the change, waiting up to a second for it to go out.
func (m *Membership) Update(change func(*Member)) error {
	if m.stopped.Load() {
		return ErrStopped
	}
	m.mu.Lock()
	change(&m.self)
	m.self.Epoch++
	m.mu.Unlock()
	return m.ml.UpdateNode(time.Second)
}

// Leave tells the cluster this member is leaving, then stops gossiping.
// It may be called more than once.
func (m *Membership) Leave(timeout time.Duration) error {
	var err error
	m.down.Do(func() {
		m.stopped.Store(true)
		close(m.stop)
		m.ml.Leave(timeout)
		err = m.ml.Shutdown()
		<-m.done
	})
	return err
}

// Shutdown stops gossiping without a word to the others, who see what
// they see of a crash: they declare the member dead after failure
// detection. Leave is the graceful stop. It may be called more than once,
// and after Leave.
func (m *Membership) Shutdown() error {
	var err error
	m.down.Do(func() {
		m.stopped.Store(true)
		close(m.stop)
		err = m.ml.Shutdown()
		<-m.done
	})
	return err
}

func (m *Membership) changed() {
	if m.onChange != nil {
		m.onChange(m.Members())
	}
}

func (m *Membership) set(n *memberlist.Node, alive bool) {
	var mb Member
	if err := json.Unmarshal(n.Meta, &mb); err != nil || mb.Name != n.Name {
		return
	}
	m.mu.Lock()
	if alive && mb.Detect != 0 && mb.Detect != m.self.Detect && !m.warned[mb.Name] {
		m.warned[mb.Name] = true
		m.log.Warn("gossip: a member declares failures dead after another time than this one: give every node and router the same --gossip-profile",
			slog.String("member", mb.Name), slog.Duration("its", mb.Detect), slog.Duration("ours", m.self.Detect))
	}
	if alive {
		m.members[n.Name] = mb
		delete(m.dead, n.Name)
	} else {
		delete(m.members, n.Name)
		if n.Name != m.self.Name {
			// memberlist does not tell here whether it died or left:
			// one that left does not answer.
			m.dead[n.Name] = deadMember{addr: n.Address(), since: time.Now()}
		}
	}
	if mb.Role == RoleNode && mb.Name != m.self.Name {
		e := State{Member: mb, Dead: !alive}
		if cur, ok := m.nodes[mb.Name]; !ok || e.Newer(cur) {
			m.nodes[mb.Name] = e
		}
	}
	m.mu.Unlock()
	m.changed()
}

type events Membership

func (e *events) NotifyJoin(n *memberlist.Node)   { (*Membership)(e).set(n, true) }
func (e *events) NotifyLeave(n *memberlist.Node)  { (*Membership)(e).set(n, false) }
func (e *events) NotifyUpdate(n *memberlist.Node) { (*Membership)(e).set(n, true) }

type delegate Membership

func (d *delegate) NodeMeta(limit int) []byte {
	b, _ := json.Marshal((*Membership)(d).Self())
	if len(b) > limit {
		return nil
	}
	return b
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// slogWriter sends memberlist's log lines to slog at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(b []byte) (int, error) {
	w.l.Debug("memberlist: " + string(b))
	return len(b), nil
}

var _ io.Writer = slogWriter{}
