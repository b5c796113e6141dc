package clusterstore

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// The values of Config.Backups that are not a count.
const (
	// AllToAll keeps every session on every node, as Tomcat's
	// DeltaManager does: for comparison.
	AllToAll = -1
	// NoBackups keeps each session on its owner only: plain sticky
	// sessions, lost when their node crashes.
	NoBackups = -2
)

// Config configures a Store.
type Config struct {
	// Name is the node's stable name, hashed on the ring. Required.
	Name string
	// Gossip is the address gossip binds. Default 127.0.0.1:7946.
	Gossip string
	// Data is the address the data plane binds. Default 127.0.0.1:7947.
	Data string
	// Advertise is the host (an IP address or a name) the other nodes
	// reach this one on, gossip and data plane alike, on the ports they
	// bind: set it when the bound address is not the one others see
	// (0.0.0.0 or [::], NAT, containers). A name is resolved once, at
	// start, for gossip (which needs an address); the data plane is
	// reached by the name. Default: the bound hosts; a node that binds
	// an unspecified address without it refuses to start
	// (gossip.ErrNoAdvertise).
	Advertise string
	// AdvertiseGossip and AdvertiseData, "host:port", override Advertise
	// for one plane, when its port is mapped to another (NAT, a
	// container's published port). Default: Advertise with the bound
	// port.
	AdvertiseGossip, AdvertiseData string
	// HTTP is the URL the node serves clients on, gossiped so that
	// routers can find it: an address they reach.
	HTTP string
	// Join lists gossip addresses of members to join through. Empty
	// starts a new cluster.
	Join []string
	// Key is the cluster key (at least 32 bytes): gossip and data plane
	// are encrypted and authenticated with keys derived from it.
	// Required.
	Key []byte
	// Backups is how many other nodes keep a copy of each session: the
	// next nodes on the key's preference list. NoBackups keeps sessions
	// on their owner only (plain sticky sessions, lost when it crashes);
	// AllToAll keeps them everywhere. Default 1, as the command's.
	Backups int
	// Ack says how many backups confirm a write before it returns.
	// Default AckOne.
	Ack Ack
	// Weight is the node's share of sessions. Default 1.
	Weight float64
	// Ring configures placement; routers must use the same. Default
	// ring.Config's defaults.
	Ring ring.Config
	// Timing tunes failure detection: a profile (LocalTiming,
	// LANTiming, WANTiming, see Profile) or one's own. Every member of
	// a cluster should use the same. Default LocalTiming.
	Timing Timing
	// RPCTimeout bounds one call to another node. Default 2 s.
	RPCTimeout time.Duration
	// FailoverWait bounds how long a write for a session whose owner
	// refuses connections waits for gossip to declare the owner dead, so
	// that the new owner takes it instead of the request failing.
	// Default 10 s, or twice Timing.Detect when that is longer.
	FailoverWait time.Duration
	// Lease is how long a successful exchange of views with a key's
	// backup (with no backups, with a majority of the nodes) lets this
	// node serve and write the key. It must be shorter than the failure
	// detection: a node cut off or paused stops serving its keys before
	// the others take them over. Default five sixths of Timing.Detect
	// (1 s with LocalTiming).
	Lease time.Duration
	// TombstoneTTL is how long a deleted session's tombstone outlives
	// it, longer than any message can be late. Default 10 minutes.
	TombstoneTTL time.Duration
	// SweepInterval is how often the node removes expired sessions and
	// tombstones past their TombstoneTTL, and reports the expired
	// sessions it owns to the functions NotifyExpired registered.
	// Default 30 s.
	SweepInterval time.Duration
	// MaxSessions bounds the sessions the node holds, owned and backed
	// up, as memstore.Config.MaxSessions bounds a memstore: anonymous
	// sessions are evicted first, a logged-in one only when the node
	// holds no anonymous session. An eviction is the node's alone (see
	// the package doc). Default 1,000,000; negative means no bound.
	MaxSessions int
	// Trace, when set, traces the operations forwarded to another node
	// and the replication of writes, and carries the trace context over
	// the data plane (see Tracer). Default nil: no spans, and the data
	// plane's messages are byte for byte those of a node without it.
	Trace Tracer
	// Registry registers the store's Prometheus metrics. Default none.
	Registry prometheus.Registerer
	// Logger receives the store's log lines. Default slog.Default().
	Logger *slog.Logger
}
