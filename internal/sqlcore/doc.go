// Package sqlcore is the SQL session store that pgstore (PostgreSQL) and
// sqlitestore (SQLite) share: one Store type and every query but the few
// expressions a Dialect supplies. It needs no driver: each dialect package
// brings its own, so that a PostgreSQL binary links no SQLite.
//
// # Layout
//
// The schema is created and upgraded by embedded, numbered migrations,
// recorded in the table sessionkit_migrations; processes starting at once
// take turns (a PostgreSQL advisory lock, an immediate SQLite transaction).
// Sessions live in sessionkit_sessions, one row each, filed under the
// SHA-256 of their token (sessionkit.Token.Hash), never the token itself.
// Deadlines are Unix milliseconds. The values are one JSON object (jsonb in
// PostgreSQL) whose members are the codec's bytes in base64: opaque strings,
// so that a merge never looks inside a value.
//
// # Writes
//
// A commit is one UPDATE that merges its delta into the row in the
// database (jsonb || and - in PostgreSQL, json_patch in SQLite) and
// touches only an existing, unexpired row: concurrent commits to different
// keys both survive, and a commit racing a logout or a renew finds no row
// and returns sessionkit.ErrNotFound instead of recreating the session.
// Update is a compare-and-set on the row's version with bounded, jittered
// retries (sessionkit.ErrConflict when they run out). Renew moves the row
// to the new token's hash in one UPDATE.
//
// Expiry is judged by the clock of the process that asks, which is the
// clock the Manager computed the deadlines with: keep the nodes' clocks in
// sync (NTP), as for any shared store. A janitor goroutine deletes expired
// rows in small batches every Config.CleanupInterval; Close stops it.
// Once a function is registered with NotifyExpired, the janitor's DELETE
// returns the rows it removed and the store reports them: each expired
// row by the one process whose statement removed it, at most once.
//
// # Near cache
//
// A dialect that can deliver every other process's writes (pgstore, by
// LISTEN/NOTIFY) gives the Store a Cache through a NearCache method. Loads
// are then served from it while its listener is up and on time; commits
// and touches return the row's version so that the cache takes the
// process's own writes; Update writes with a compare-and-set that returns
// the current row, so a stale cached value costs one more statement. The
// statements used with a cache (a data-modifying WITH) are PostgreSQL's.
//
// # Failures
//
// Errors from the database wrap sessionkit.ErrUnavailable, which the
// Manager answers with 503; an SQLite file locked by another process past
// the busy timeout also wraps ErrBusy. Nothing needs restarting when the
// database comes back: the pool opens new connections.
package sqlcore
