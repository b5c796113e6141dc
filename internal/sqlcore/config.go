package sqlcore

import (
	"log/slog"
	"time"
)

// Config is what the engine needs of a store's configuration; pgstore and
// sqlitestore document each field, and zero means the default.
type Config struct {
	CleanupInterval time.Duration // default 5 minutes; negative: no janitor
	CleanupBatch    int           // default 1000
	UpdateAttempts  int           // default 100
	Logger          *slog.Logger  // default slog.Default()
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
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
