// Package redisstore keeps sessions in Redis, so that every node of an
// application reads and writes the same sessions and any node can serve any
// request: sessionkit's centralized strategy. It speaks to a standalone
// server, a Sentinel group or a Redis Cluster through
// github.com/redis/rueidis, chosen by one URL (see Config.URL). It needs
// Redis 7.0 or later (PEXPIRETIME).
//
// # Round trips
//
// A centralized store costs a network round trip per access; this one
// keeps them to the fewest:
//
//   - Load: one (HGETALL and PEXPIRETIME pipelined), none on a near-cache
//     hit; with the near cache, a session this store wrote last is a hit.
//   - Commit: one Lua script that applies only the request's delta (HSET
//     of the keys it set, HDEL of those it deleted, PEXPIREAT) and only if
//     the session still exists, so a commit racing a logout, a renew or a
//     revoke never recreates it. A request that changed nothing is a Touch,
//     or nothing at all (the Manager's TouchAfter).
//   - Touch: one PEXPIREAT, which answers 0 for a session that is gone.
//   - Update: one read (none when the session is in the near cache), then
//     one compare-and-set script per attempt; a lost attempt, such as one
//     whose function ran on a stale cached value, gets the current value
//     back in the same reply, and the next attempt waits a short jittered
//     delay.
//   - Create: one; Renew: two (take the old record, write the new one);
//     Delete: one, plus one to update the principal index of a logged-in
//     session.
//
// # Layout
//
// A session is one hash under Prefix+"s:"+hex(SHA-256(token)): a dump of
// Redis holds no usable token. Each session key is a field of the same
// name (a key starting with '#' gets a second '#'); metadata lives in
// fields named '#' and a letter: #v layout version ("1"), #p principal, #c
// creation, #d absolute deadline (Unix ms), #i idle timeout (ms), #r
// remember-me, #g generation. The idle deadline is the key's expiry, set
// to the earlier of the idle and the absolute deadline, so Redis itself
// removes dead sessions; Load checks both deadlines as well.
//
// A principal's sessions are indexed in a sorted set, Prefix+"p:"+principal,
// scored by each session's absolute deadline and pruned by score
// (ZREMRANGEBYSCORE) at every write to it and every listing, so it never
// outgrows the principal's live sessions; entries whose session has gone
// are dropped when listed. Listing and RevokeAll read the index, never the
// keyspace: no KEYS, no SCAN. Generations are counters, Prefix+"g:"+principal.
//
// # Redis Cluster
//
// Every operation on a session touches its one key, so it stays in one
// slot; scripts never name another key. The index is a separate key
// updated idempotently beside the session's own write; Renew copies across
// slots (take, then write); RevokeAll deletes session by session, pipelined.
//
// # Near cache
//
// With Config.NearCache on a standalone server or a Sentinel group, the
// store keeps a cache of sessions, each entry stamped with the session's
// version (field #n, which every write script increments and returns). One
// connection of the store has Redis client tracking on (with NOLOOP, and
// REDIRECT to a second connection that receives the invalidations), and
// the store loads and writes sessions through it, so Redis tracks every
// cached session on that connection and pushes an invalidation to the
// second one when any other client changes it; the store's own writes push
// none. As nothing is pushed on the first connection, rueidis writes a
// lone call there and reads its reply on the caller's goroutine. Entries
// are filled by loads and by the replies of the store's own Create,
// Commit, Touch and Update (the delta applied to the cached session, when
// the reply's version is the next one); an entry never goes back to a
// lower version, and a fill is refused when an invalidation of its key, or
// the loss of the tracking connection, came after its request was sent; a
// refused fill drops the key's entry unless that holds a later version.
// NearCache.TTL counts from the fill that brought an entry's version: a
// Touch does not extend it. Losing either connection empties the cache; an
// error reply about the request (such as OOM) is not a loss, nor is a
// request's context ending before its call is sent (no call is sent with
// less than a millisecond left). rueidis runs a lone call on the tracking
// connection without watching the context's cancellation: a request
// canceled meanwhile waits for the reply or its deadline, and then a load
// fails with context.Canceled while a write whose reply came back
// succeeds. A deadline that passes during such a call closes the
// connection, a loss; on a connection rueidis pipelines (once calls
// overlapped) it does not, and the store checks the connection at once.
// So a request whose session is cached costs one round trip to commit and
// none to load; Delete, Renew and revocations drop the entry here and
// invalidate it elsewhere.
//
// The invalidation is asynchronous: another node serves the previous
// version until it arrives and is read, a delay that grows with the
// reading process's load (docs/benchmarks.md gives the measured figures:
// well under a millisecond at the median on an idle machine, milliseconds
// at the 99th percentile on a loaded one). A revocation or a logout on one
// node reaches the others with the same delay. A tracking connection lost
// on its own (killed, or cut off) ends Redis's tracking of this store's
// keys without a message to it: the store notices at its next call there
// or at its check, a PING on that connection every 25 ms while no call is
// on it, answered within 100 ms or taken as a loss. Until then it may
// serve entries another node changed: for 25 ms and a round trip at most
// when the connection is closed, plus the time the process takes to run
// the check (docs/benchmarks.md), and up to some 125 ms when it hangs.
// After a Sentinel failover the cache is emptied, and the tracking
// connection moved to the new primary, at the store's first write after
// its client switched (a load notices within 100 ms), or at the first
// write that fails on the old primary; until then, or until NearCache.TTL,
// a node may serve what it cached before the failover. On Redis Cluster,
// loads go through rueidis's client-side cache, and the store skips it for
// sessions it wrote in the last NearCache.WriteBypass.
//
// # Expiry events
//
// The store implements sessionkit.ExpiryNotifier through Redis keyspace
// notifications: the first NotifyExpired subscribes to
// __keyevent@<db>__:expired, on every node of a Cluster (Redis publishes a
// key's expiry only on the node that held it), and subscribes again after
// a failure or a failover. Redis publishes these events only when
// notify-keyspace-events includes "Ex" ("CONFIG SET
// notify-keyspace-events Ex", or in redis.conf): the operator turns it on;
// the store never changes a server's configuration, and warns in
// Config.Logger when it reads the setting and finds it off.
//
// The guarantee is Redis Pub/Sub's: at most once. An expiry published while
// the subscription is down (a lost connection, a failover, a Cluster node
// not yet subscribed) is lost, and so is one that finds 4096 reports
// waiting for a slow Observer. Every process with a store subscribed hears
// every expiry: with several processes, each reports it. Redis removes an
// expired key when a client touches it or when its expiry cycle samples
// it, usually well within a second, later when many keys expire at once.
// A notification names only the key: the report carries the session's ID
// and no principal.
//
// # Failures
//
// Every call is bounded: dialing by DialTimeout, a stuck connection by
// WriteTimeout, each call by OpTimeout. While Redis is down calls fail
// fast with errors wrapping sessionkit.ErrUnavailable (503 from the
// Manager); once it accepts connections again the same Store serves again,
// as rueidis reconnects on the next call.
//
// With Sentinel, a failover can lose writes Redis acknowledged before its
// replica received them: replication is asynchronous. Config.WaitReplicas
// makes each write wait for replicas (WAIT) for those who cannot lose one;
// it then also refuses writes (ErrNotReplicated, 503) while too few
// replicas are up, such as after a failover left the new primary alone.
package redisstore
