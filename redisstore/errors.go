package redisstore

import "errors"

// Errors returned by the store besides sessionkit's. Compare them with
// errors.Is. Every failure to reach Redis also satisfies
// errors.Is(err, sessionkit.ErrUnavailable), and a canceled or expired
// context satisfies errors.Is(err, context.Canceled or
// context.DeadlineExceeded).
var (
	// ErrNotReplicated reports a write that fewer replicas than
	// Config.WaitReplicas acknowledged within Config.WaitTimeout. The
	// primary applied it, but a failover might lose it. It wraps
	// sessionkit.ErrUnavailable, so the Manager answers 503 and the
	// client retries.
	ErrNotReplicated = errors.New("redisstore: write not acknowledged by enough replicas")

	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("redisstore: store closed")
)
