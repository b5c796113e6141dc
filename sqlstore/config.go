package sqlstore

import (
	"log/slog"
	"time"
)

// Config configures a Store. Its zero value is the default; each field's
// comment states its default.
type Config struct {
	// CleanupInterval is how often the janitor deletes expired sessions.
	// Expired sessions are never returned meanwhile. Default 5 minutes; a
	// negative value runs no janitor (DeleteExpired can be called
	// instead).
	CleanupInterval time.Duration

	// CleanupBatch is how many expired rows one DELETE removes, so that
	// the janitor never holds locks on many rows at once. Default 1000.
	CleanupBatch int

	// UpdateAttempts bounds the compare-and-set attempts of one Update
	// before it returns sessionkit.ErrConflict. Between attempts it waits
	// a random time up to a bound that doubles from 1 ms to 50 ms. Default
	// 100, enough for 50 writers of one key at once.
	UpdateAttempts int

	// MaxConns is the size of the connection pool. Default: for
	// PostgreSQL, the URL's pool_max_conns or else pgxpool's default (the
	// larger of 4 and the number of CPUs); for SQLite, the larger of 4
	// and the number of CPUs.
	MaxConns int

	// BusyTimeout is how long an SQLite write waits for another process
	// to release the file's write lock before failing with ErrBusy.
	// Ignored by PostgreSQL. Default 5 seconds.
	BusyTimeout time.Duration

	// Logger receives the janitor's failures. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.CleanupInterval == 0 {
		c.CleanupInterval = 5 * time.Minute
	}
	if c.CleanupBatch <= 0 {
		c.CleanupBatch = 1000
	}
	if c.UpdateAttempts <= 0 {
		c.UpdateAttempts = 100
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
