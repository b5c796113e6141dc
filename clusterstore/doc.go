// Package clusterstore keeps sessions in the memory of a cluster's nodes:
// strategy 1, replication, without its known weakness.
//
// Each session lives on its owner — the node the ring (package ring) gives
// for the SHA-256 of its token — and on the key's next Backups nodes, its
// backups. Memory per node is about (1+Backups)/N of all sessions and each
// write costs Backups copies, whatever N; AllToAll keeps every session on
// every node, as Tomcat's DeltaManager does, for comparison. With 0 backups
// the store is plain sticky sessions: a crashed node's sessions are lost.
//
// A node mints the tokens of the sessions it creates so that it owns them
// (the Store is a sessionkit.Minter): a router that hashes tokens on the
// same ring (package router, which can join the gossip with --join) keeps
// sending a session's requests to its owner. A request that reaches
// another node is forwarded to the owner by that node.
//
// Membership and failure detection are hashicorp/memberlist's gossip,
// kept by package gossip (clusterstore/gossip), which a router joins too
// to route on the same members. The owner applies each write and ships it to the backups as a versioned delta
// over the data plane (HTTP/2 over mutual TLS 1.3), batched per peer, and
// returns after the acknowledgements Config.Ack asks for. A backup applies
// deltas in version order; a gap fetches the full state; tombstones keep a
// late delta from bringing back a deleted or renewed session.
//
// When gossip declares a node dead, each of its keys' second preference —
// which holds the backup — becomes the owner, and sessions are copied again
// until each has Backups copies. Before that, reads of its sessions are
// answered from the backup, and writes wait (up to Config.FailoverWait) for
// the new owner rather than fail.
//
// Membership changes are fenced. Each node keeps its view as a vector of
// the members' states that merges the same way on every node, and every
// data plane call carries its digest: nodes whose views differ merge them
// before the call runs, a node forwards a call for a key it does not own,
// and a backup refuses a replicated write from a node that does not own
// the key; the writer undoes it and retries it at the owner. Each write
// carries an operation id, replicated with it, and an owner does not apply
// a write whose id it already holds: with two backups or more, one may
// have taken a write that another refused and be the new owner where it
// is retried, and the write is still applied once. No copy of a
// write leaves a node before its backups acknowledged or refused it, and
// a new owner's first write to a key jumps its version past a former
// owner's. A backup takes its owner's writes in the order they were sent:
// a copy it holds at the owner's version or above (a write retried
// elsewhere that reached it and was undone) gives way to the owner's
// record. The fence is the backups' check: with AckNone or with 0
// backups, a write that races a change of owner may be lost. A node serves
// a key only while it holds its lease, an exchange of views with the key's
// backup that agreed less than Config.Lease ago, so a paused or cut-off
// node stops before the others take over. A node that joins, returns after
// being declared dead, or was paused longer than failure detection warms:
// it pulls the copies of its keys from every node and, until done,
// reconciles each key it serves by version with its other holders. While
// the owner does not answer, reads are served by a warm backup only. Drain
// (and Close) takes a node off the ring and hands its sessions over before
// it leaves.
//
// Memory: a node holds at most Config.MaxSessions sessions, owned and
// backed up counted together. A session that would pass the bound evicts
// one, as in memstore: an anonymous session while the node holds any, a
// logged-in one only when it holds no anonymous session. An eviction is
// the node's alone: it leaves no tombstone and sends no message, so that a
// flood of anonymous clients costs a node neither memory past the bound
// nor bandwidth. An owner that evicts a session it owns ends it there: the
// session's next request finds none and starts a new one. The backups'
// copies stay until their own bound or expiry removes them; such a copy
// comes back only if the owner fails, or misses the session just after a
// membership change and reads it from the other nodes. RevokeAll deletes
// the principal's sessions on every node, copies included. A Delete (a
// logout) of a session whose owner had evicted it finds nothing there and
// leaves the copies, which come back if the owner fails: a logged-in
// session is evicted only when the node holds no anonymous one, so set
// MaxSessions above the logged-in sessions a node holds. A backup that
// evicts its copy lacks it until the owner's next write, which finds the
// gap and sends the whole record again.
//
// Tracing: with Config.Trace set (package otelsession gives one on
// OpenTelemetry), an operation forwarded to its key's owner is a
// sessionkit.forward span, a write's replication a sessionkit.replicate
// span, and each backup's apply of it a sessionkit.apply span, the
// replicate span's child: the trace context travels in the data plane's
// calls and in each replication message.
//
// Security: gossip is encrypted and authenticated with a key derived from
// the cluster key (Config.Key), and the data plane's certificate is derived
// from it too and pinned: a process without the key can neither join nor
// read nor write.
//
// # Expiry events
//
// The store implements sessionkit.ExpiryNotifier. Every
// Config.SweepInterval (default 30 s) each node removes the expired
// sessions it holds, and reports those it owns under its current view,
// with their principal: a Manager on every node together hears each
// expiry, from the session's owner, up to SweepInterval after its
// deadline. At most once per owner: when ownership moves around the
// deadline (a node joins, leaves or crashes), the old owner and the new
// one may both report a session, or a crash before the sweep may leave
// the report to the new owner. Evicted sessions (MaxSessions) are not
// reported.
//
// # Wrapping the store
//
// The store implements sessionkit.LazyLoader, so the Manager reads a
// session's values where the store keeps them. A type that embeds a store
// and overrides Load must override LoadLazy and LazyStore too, or hide
// them; one that overrides Load alone is read through its Load, since the
// LazyStore it inherits names the embedded store (see sessionkit.Lazy).
package clusterstore
