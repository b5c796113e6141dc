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
// The tests check this for every one of 100,000 keys. It needs a number of points per
// member that never depends on the number of members: sizing points from
// N (as Envoy does) breaks it for 14-42% of keys.
//
// # Algorithms
//
//	algorithm     preference  balance (max/mean)      moves between     lookup
//	              list        N=10    N=100           survivors
//	ring          yes         1.04    1.07 (1500 pts) none              O(1) index + scan
//	nginx         yes         1.11    1.28 (160 pts)  none              O(1) index + scan
//	rendezvous    yes         1.00    1.00            none              O(N)
//	maglev        no          1.00    1.00            0.2-0.6%/change   O(1) table
//	jump          no          1.00    1.00            see below         O(log N)
//
// Balance is the largest member's share of keys over the mean share, exact
// for ring, nginx and maglev (measured on the hash space and the table),
// expected for rendezvous and jump. For comparison,
// github.com/buraksezer/consistent with 7919 partitions, 20 replicas and
// load 1.25 gives 1.25 at both sizes.
//
// Use VirtualNodes (the default) or Rendezvous to place sessions.
// Rendezvous balances perfectly and needs no memory per point, but a
// lookup costs O(N). Maglev looks up fastest, but every change also moves
// 0.2-0.6% of keys between members that stayed, and it has no preference
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
//
// # Speed
//
// Median time of one Owner lookup of a 32-byte key, from six interleaved
// runs of the bench module's BenchmarkLookup (AMD EPYC, 2 cores shared
// with other work; raw results in bench/testdata/lookup.txt). CPU time
// is the thread's own, which a busy machine inflates less than wall
// time. The ratio is to buraksezer/consistent's LocateKey at the same N
// (7919 partitions, 20 replicas, load 1.25, XXH64), by CPU time. Nothing
// here allocates; stathat/consistent allocates once per lookup.
//
//	                       N = 10                  N = 100
//	implementation         CPU ns  wall ns  ratio  CPU ns  wall ns  ratio
//	ring                     48      60     0.66     69      86     0.88
//	nginx                    65      76     0.90     96     169     1.23
//	rendezvous               53      70     0.73    242     410     3.10
//	rendezvous (weighted)   192     331     2.66    582    1111     7.47
//	maglev                   29      56     0.40     31      53     0.39
//	jump                     53      95     0.74     69     109     0.89
//	buraksezer               72     108     1.00     78     124     1.00
//	stathat                 189     292     2.63    208     300     2.67
//
// Owners for the owner and two backups at N = 100 takes 134 ns (ring) and
// 641 ns (rendezvous). Jump's loop runs about ln N steps, each with a
// floating-point division, so at N = 100 it is no faster than
// buraksezer's single hash, modulo and map read.
package ring
