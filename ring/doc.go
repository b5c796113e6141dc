// Package ring maps keys to members by consistent hashing, so that every
// process that knows the same members sends a key to the same member
// without talking to the others. The router uses it to pick the node for
// a request; the cluster uses it to place a session and its backups.
//
// # Snapshots
//
// A [Ring] is an immutable snapshot of a member list. Lookups take no locks
// and allocate nothing; a membership change builds a new Ring with [New]
// and publishes it with a [sync/atomic.Pointer]:
//
//	var current atomic.Pointer[ring.Ring]
//	r, err := ring.New(ring.Config{}, members) // on every change
//	current.Store(r)
//	owner := current.Load().Owner(key)         // on every request
//
// The same Config and the same members, in any order, give the same
// answers in every process: the ring hashes member names, never list
// positions, with hash functions that do not vary between processes
// (XXH64 and CRC-32, never hash/maphash). Names must therefore be stable
// identities, such as a node ID or an address.
//
// Keys are any bytes. sessionkit places a session by the SHA-256 hash of
// its token and passes those 32 bytes; this package knows nothing of
// sessions.
//
// # Preference lists
//
// [Ring.Owners] returns a key's first n distinct members, its preference
// list. With VirtualNodes, Nginx and Rendezvous, removing a member only
// removes it from every list and adding one only inserts it. So when an
// owner fails, each of its keys moves to the key's second entry, which is
// where the first backup lives, and when a new member takes a key, the
// previous owner is the key's second entry and can hand the data over.
// This holds for every key only while the number of points per member
// never depends on the number of members: sizing points from N (as Envoy
// does) breaks it for a share of the keys.
//
// # Algorithms
//
//	algorithm     preference  balance                 moves between     lookup
//	              list                                survivors
//	ring          yes         good, with more points  none              O(1) index + scan
//	nginx         yes         fair (nginx's points)   none              O(1) index + scan
//	rendezvous    yes         even                    none              O(N)
//	maglev        no          even                    a small share     O(1) table
//	jump          no          even                    see below         O(log N)
//
// Use VirtualNodes (the default) or Rendezvous to place sessions.
// Rendezvous balances evenly and needs no memory per point, but a lookup
// costs O(N). Maglev looks up fastest, but every change also moves a small
// share of keys between members that stayed, and it has no preference
// list: use it where speed matters more than stickiness. Jump suits only
// numbered buckets where only the last is ever removed; here members are
// numbered in the order of their names, so a member whose name sorts
// early joining or leaving renumbers every later member and moves most of
// their keys. Nginx reproduces nginx's "hash $key consistent" so that
// sessionkit and an nginx in front of it agree.
//
// # Bounded loads
//
// [Ring.OwnerBounded] skips members whose load would exceed c times the
// mean (consistent hashing with bounded loads). Its answer depends on the
// loads one process sees at one moment, so it must not place sessions or
// replicas: use it only to choose where new, unplaced work goes.
package ring
