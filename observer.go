package sessionkit

import "time"

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
// on the request's goroutine: Observe must be fast and safe for concurrent
// use. Package prom adapts it to Prometheus.
type Observer interface {
	Observe(Event)
}
