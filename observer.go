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

// Event describes one store operation the Manager made (Op set), or one
// event of a session's life (Change set, Op zero; see Change).
type Event struct {
	// Op is the store operation, zero for a lifecycle event.
	Op Op
	// Change is the lifecycle event, zero for a store operation.
	Change Change
	// ID is the session's ID (Token.ID, never the token) in a lifecycle
	// event: for Renewed, its new ID. The ID of a session's Created
	// event is the ID of its Expired event, whatever the server-side
	// store. A client-side store's token is the sealed session itself
	// and changes with every write, so its IDs name one token only.
	ID string
	// OldID is the ID the session had before a Renewed event.
	OldID string
	// Principal is the session's principal as the store holds it at the
	// event ("" when anonymous, or when an Expired event's store cannot
	// tell). A Renewed event made by SetPrincipal carries the principal
	// from before the change, which the request's commit then stores.
	Principal string
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
//
// It also receives the sessions' lifecycle events, each in a call of its
// own made after the store operation succeeded: Created, Renewed, Destroyed
// and Revoked with the request's context (the one given to RevokeAll), and
// Expired from the store's goroutine, with the store's context, when the
// store implements ExpiryNotifier.
//
// Observe runs while the request's Session is locked: it must not call
// the Session's methods (FromContext(ctx).Principal() would wait for
// ever). The Event carries what an Observer needs of the session.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// An OpStarter is an Observer that is also told when each store operation
// starts. The context StartOp returns is the one the store is called with
// and the one Observe then gets: a tracer starts a span here and ends it in
// Observe. Lifecycle events (Op zero) have no StartOp: their context is the
// request's (the store's, for Expired). The Manager looks for it once, in
// New.
type OpStarter interface {
	Observer
	StartOp(ctx context.Context, op Op) context.Context
}
