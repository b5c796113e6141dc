// Package pgstore keeps sessions in PostgreSQL: the centralized strategy
// for teams whose one shared store is a PostgreSQL database. It reaches
// the database through pgx's connection pool.
//
// The schema is created and upgraded by embedded, numbered migrations when
// a Store opens (processes starting at once take turns on an advisory
// lock). Sessions live in the table sessionkit_sessions, one row each,
// filed under the SHA-256 of their token, never the token itself; their
// values are one jsonb object. A commit is one UPDATE that merges its
// delta into the row, so concurrent commits to different keys both
// survive, and a commit racing a logout or a renew returns
// sessionkit.ErrNotFound instead of recreating the session. Update is a
// compare-and-set with bounded, jittered retries. A janitor deletes
// expired rows in small batches.
//
// Errors from the database wrap sessionkit.ErrUnavailable, which the
// Manager answers with 503. Nothing needs restarting when the database
// comes back: the pool opens new connections. Expiry is judged by the
// clock of the process that asks: keep the nodes' clocks in sync (NTP).
//
// Expiry events: the store implements sessionkit.ExpiryNotifier. Each
// janitor DELETE returns the rows it removed (DELETE ... RETURNING), and
// the process whose statement removed a row reports it, with its
// principal: among processes sharing the database, one process reports
// each expiry, at most once (a process that stops between its DELETE and
// the report loses it), up to CleanupInterval after the deadline.
//
// # Near cache
//
// With Config.NearCache set, a Store keeps the sessions it reads and
// writes in the process, each stamped with its row's version (every write
// of data or metadata moves it by one; the higher version wins), under a
// TTL and a byte bound. A request whose session is cached loads it with
// no round trip; its commit is the one UPDATE it is without the cache,
// which returns the new version so that the cache takes the commit. An
// Update runs its function on the cached value and writes with a
// compare-and-set on the cached version that returns the current row when
// it is refused: a stale cache costs one more statement, never another
// read nor one of Options.UpdateAttempts, and never loses a write. Commits stay synchronous and durable
// (fsync and synchronous_commit as the server has them).
//
// Other processes' writes reach the cache through LISTEN/NOTIFY. The first
// store with a near cache creates triggers on sessionkit_sessions that
// notify the channel sessionkit_sessions of every write of a session's
// data or metadata (the hex of its token's hash and its new version), in
// the writing transaction, and of every TRUNCATE (which empties the
// caches); the triggers stay, so every process writing the table notifies,
// near cache or not. Creating them needs, once, the CREATE privilege on
// the schema and ownership of the table (the user that migrated it), and
// waits at most 5 s for the table's lock (lock_timeout) rather than hold
// every writer of the table behind it: New fails then, and can be retried.
// Each store holds one connection besides its pool that LISTENs and sends
// itself a heartbeat every NearCache.Heartbeat, on a channel of its own,
// so that no listener receives another's heartbeats. The cache serves a
// session only while the newest heartbeat that came back was sent less
// than NearCache.MaxLag ago: a
// heartbeat comes back after every commit acknowledged before it was sent,
// so a read reflects every commit acknowledged more than MaxLag before it,
// and a revoked or deleted session is refused within MaxLag (usually
// within a millisecond: see docs/benchmarks.md). When the listener's
// connection fails, or its heartbeat is late, the cache is emptied, every
// load reads the database, and the cache fills again once the listener has
// reconnected and heard its heartbeat. A listener whose statement goes
// unanswered, or whose heartbeats stop coming back, for 10 x MaxLag (at
// least 1 s) gives up its connection and reconnects, as on a path that
// silently stopped delivering.
//
// Writes that fire no trigger reach no cache, which serves what it holds
// until its TTL: writes in a session with session_replication_role =
// replica (logical replication's apply, some bulk loads), pg_restore
// --disable-triggers, and writes while the triggers are disabled (ALTER
// TABLE ... DISABLE TRIGGER). The triggers are ordinary ones, not ENABLE
// ALWAYS: the replica role is how an operator writes the table without
// firing them, and pg_restore --disable-triggers would disable ALWAYS
// triggers too. After such a write, caches may serve the old row for up
// to NearCache.TTL; restart the processes with a near cache to drop it at
// once.
//
// What it costs the server:
//
//   - NOTIFY serializes committing transactions: a transaction that
//     notified holds one lock of the whole server (every database of the
//     cluster) from just before its commit until the commit is durable,
//     so the commits that notify (every write of a session once the
//     triggers exist, the heartbeats, and any other application's
//     NOTIFY) flush the WAL one after another instead of together.
//     Transactions that do not notify are not held.
//   - A listener that stops reading (a process paused, a connection stuck)
//     holds back the server's notification queue (8 GB by default,
//     max_notify_queue_pages): once it is full, every transaction that
//     notifies fails at commit. PostgreSQL logs a warning at half full;
//     pg_notification_queue_usage() tells the share used, and
//     pg_terminate_backend on the listener (application_name
//     sessionkit-listener) frees it, after which the store reconnects.
//   - LISTEN needs a session-mode connection: not through PgBouncer or
//     another pooler in transaction mode. The listener connects with
//     Config.URL, so point the URL at the server (or at a session-mode
//     pool) when the cache is on.
//   - Notifications are per database: stores in other schemas of the same
//     database hear each other's notifications and drop them.
//
// The triggers can be removed with DROP TRIGGER sessionkit_notify_write,
// sessionkit_notify_update and sessionkit_notify_truncate ON
// sessionkit_sessions once no process uses a near cache.
//
// sqlitestore shares this package's engine, schema and behaviour (but for
// the near cache).
package pgstore
