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
// sqlitestore shares this package's engine, schema and behaviour.
package pgstore
