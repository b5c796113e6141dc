// Package sqlitestore keeps sessions in an SQLite file: the embedded
// default that needs nothing installed, for one machine or several
// processes sharing one file. It uses modernc.org/sqlite, pure Go without
// cgo, in WAL mode with a busy timeout and immediate transactions, so that
// several processes can share the file.
//
// The schema is created and upgraded by embedded, numbered migrations when
// a Store opens. Sessions live in the table sessionkit_sessions, one row
// each, filed under the SHA-256 of their token, never the token itself;
// their values are one JSON object. A commit is one UPDATE that merges its
// delta into the row, so concurrent commits to different keys both
// survive, and a commit racing a logout or a renew returns
// sessionkit.ErrNotFound instead of recreating the session. Update is a
// compare-and-set with bounded, jittered retries. A janitor deletes
// expired rows in small batches.
//
// Errors wrap sessionkit.ErrUnavailable, which the Manager answers with
// 503; a file locked by another process past Config.BusyTimeout also
// wraps ErrBusy.
//
// Expiry events: the store implements sessionkit.ExpiryNotifier. Each
// janitor DELETE returns the rows it removed (DELETE ... RETURNING), and
// the process whose statement removed a row reports it, with its
// principal: among processes sharing the database, one process reports
// each expiry, at most once (a process that stops between its DELETE and
// the report loses it), up to CleanupInterval after the deadline.
//
// pgstore shares this package's engine, schema and behaviour.
package sqlitestore
