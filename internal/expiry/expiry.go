// Package expiry is what the stores that implement
// sessionkit.ExpiryNotifier share: the functions NotifyExpired registered,
// and a queue of the expiries found while a lock was held, delivered once
// it is released.
package expiry

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sessionkit/sessionkit"
)

// Func is a function NotifyExpired registered.
type Func = func(ctx context.Context, expired []sessionkit.Expiry)

// Notifier holds a store's registered functions and its queue. Its zero
// value has none; its methods are safe for concurrent use.
type Notifier struct {
	fns     atomic.Pointer[[]Func]
	mu      sync.Mutex // guards the writes of fns, pending and closed
	pending []sessionkit.Expiry
	closed  bool
}

// Add registers fn and reports whether it is the first.
func (n *Notifier) Add(fn Func) (first bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var fns []Func
	if p := n.fns.Load(); p != nil {
		fns = *p
	}
	fns = append(fns[:len(fns):len(fns)], fn)
	n.fns.Store(&fns)
	return len(fns) == 1
}

// Listening reports whether any function is registered: a store does no
// work for its expiries until one is.
func (n *Notifier) Listening() bool { return n.fns.Load() != nil }

// Queue keeps e for the next Flush, when a function is registered and the
// notifier is not closed. It may run with a store's lock held.
func (n *Notifier) Queue(e sessionkit.Expiry) {
	if !n.Listening() {
		return
	}
	n.mu.Lock()
	if !n.closed {
		n.pending = append(n.pending, e)
	}
	n.mu.Unlock()
}

// Flush delivers what Queue kept. It must run with no store lock held.
func (n *Notifier) Flush(ctx context.Context) {
	n.Deliver(ctx, n.Take())
}

// Take returns what Queue kept and empties the queue, for a store that
// delivers it from a goroutine of its own.
func (n *Notifier) Take() []sessionkit.Expiry {
	n.mu.Lock()
	defer n.mu.Unlock()
	batch := n.pending
	n.pending = nil
	return batch
}

// Deliver calls every registered function with batch, unless it is empty.
// It must run with no store lock held.
func (n *Notifier) Deliver(ctx context.Context, batch []sessionkit.Expiry) {
	p := n.fns.Load()
	if p == nil || len(batch) == 0 {
		return
	}
	for _, fn := range *p {
		fn(ctx, batch)
	}
}

// Close drops the queue; Queue keeps nothing afterwards, since no Flush
// will come.
func (n *Notifier) Close() {
	n.mu.Lock()
	n.pending, n.closed = nil, true
	n.mu.Unlock()
}
