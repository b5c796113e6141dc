// Package retry holds the wait between the attempts of an operation that
// lost a race (a compare-and-set that found its version moved): a random
// wait under a bound that doubles with every retry, so that contending
// writers spread out instead of colliding again in step.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a full-jitter exponential backoff. Its zero value never waits.
type Backoff struct {
	// First bounds the wait before the first retry; each later retry
	// doubles the bound.
	First time.Duration
	// Max caps the bound.
	Max time.Duration
}

// Bound returns the longest wait before retry n (1 for the first retry):
// First doubled n-1 times, at most Max.
func (b Backoff) Bound(n int) time.Duration {
	d := b.First
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Wait waits a random time in (0, Bound(n)] before retry n, or until ctx
// ends, when it returns ctx.Err().
func (b Backoff) Wait(ctx context.Context, n int) error {
	bound := b.Bound(n)
	if bound <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(rand.N(bound) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
