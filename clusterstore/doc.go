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
// Membership and failure detection are hashicorp/memberlist's gossip. The
// owner applies each write and ships it to the backups as a versioned delta
// over the data plane (HTTP/2 over mutual TLS 1.3), batched per peer, and
// returns after the acknowledgements Config.Ack asks for. A backup applies
// deltas in version order; a gap fetches the full state; tombstones keep a
// late delta from bringing back a deleted or renewed session.
//
// When gossip declares a node dead, each of its keys' second preference —
// which holds the backup — becomes the owner, and sessions are copied again
// until each has Backups copies. Before that, reads of its sessions are
// answered from the backup, and writes wait (up to Config.FailoverWait) for
// the new owner rather than fail. A node that joins or returns reads the
// sessions it now owns through from their holders, and former owners hand
// them over.
//
// Security: gossip is encrypted and authenticated with a key derived from
// the cluster key (Config.Key), and the data plane's certificate is derived
// from it too and pinned: a process without the key can neither join nor
// read nor write.
//
// What part of the cluster's story is still to come: fencing by view
// vectors and leases, so that two nodes never both accept writes for one key
// while their views differ, and streaming transfer on join.
package clusterstore
