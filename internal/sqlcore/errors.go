package sqlcore

import "errors"

var (
	// ErrBusy reports that an SQLite write waited longer than the busy
	// timeout for another connection or process to release the database
	// file's write lock. Such errors also wrap sessionkit.ErrUnavailable,
	// so the Manager answers 503 and the client may retry.
	ErrBusy = errors.New("sqlitestore: database file locked by another writer past the busy timeout")

	// ErrKey reports a session key the store cannot hold: one that is not
	// valid UTF-8 or that contains a NUL byte (the values are kept in a
	// JSON object, whose keys are text). Nothing was written.
	ErrKey = errors.New("pgstore/sqlitestore: session key is not valid UTF-8 or contains NUL")
)
