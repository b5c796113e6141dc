package sessionkit

import (
	"context"
	"time"
)

// Op names a store operation, for an Observer.
type Op uint8

// The store operations an Observer sees.
const (
	OpLoad Op = iota + 1
	OpCreate
	OpCommit
	OpTouch
	OpRenew
	OpUpdate
	OpDelete
)

var opNames = [...]string{"", "load", "create", "commit", "touch", "renew", "update", "delete"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "unknown"
}

// Event describes one store operation the Manager made.
type Event struct {
	Op Op
	// Duration is how long the store took.
	Duration time.Duration
	// Bytes is the size of the encoded values read (load) or written
	// (create, commit, update).
	Bytes int
	// Found is false when the session did not exist (a load that found
	// nothing, a write that got ErrNotFound).
	Found bool
	// Err is the error the operation failed with, if any.
	Err error
}

// Observer receives an Event for every store operation, after it completes,
// with the context the operation ran in (the request's, or the one given to
// Load or Commit), on the caller's goroutine: Observe must be fast and safe
// for concurrent use. Package prom adapts it to Prometheus.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// An OpStarter is an Observer that is also told when each store operation
// starts. The context StartOp returns is the one the store is called with
// and the one Observe then gets: a tracer starts a span here and ends it in
// Observe. The Manager looks for it once, in New.
type OpStarter interface {
	Observer
	StartOp(ctx context.Context, op Op) context.Context
}
