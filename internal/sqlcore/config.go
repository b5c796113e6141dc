package sqlcore

import (
	"log/slog"
	"time"
)

// Options are the settings both SQL stores share (pgstore.Options and
// sqlitestore.Options). The zero value is the default; each field's
// comment states its default.
type Options struct {
	// CleanupInterval is how often the janitor deletes expired sessions.
	// Expired sessions are never returned meanwhile. Default 5 minutes; a
	// negative value runs no janitor (Store.DeleteExpired can be called
	// instead).
	CleanupInterval time.Duration

	// CleanupBatch is how many expired rows one DELETE removes, so that
	// the janitor never holds locks on many rows at once. Default 1000.
	CleanupBatch int

	// UpdateAttempts bounds the compare-and-set attempts of one Update
	// before it returns sessionkit.ErrConflict. Between attempts it waits
	// a random time up to a bound that doubles from 1 ms to 50 ms. Default
	// 100, enough for 50 writers of one key at once. With pgstore's near
	// cache, an attempt refused only because the cached value was stale
	// is retried at once and not counted.
	UpdateAttempts int

	// Logger receives the janitor's failures. Default slog.Default().
	Logger *slog.Logger
}

func (c *Options) setDefaults() {
	if c.CleanupInterval == 0 {
		c.CleanupInterval = 5 * time.Minute
	}
	if c.CleanupBatch <= 0 {
		c.CleanupBatch = 1000
	}
	if c.UpdateAttempts <= 0 {
		c.UpdateAttempts = 100
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
