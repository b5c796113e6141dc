// Package prom exports a sessionkit.Manager's store operations and its
// sessions' lifecycle events as Prometheus metrics. It implements sessionkit.Observer:
//
//	obs := prom.New(prometheus.DefaultRegisterer)
//	mgr, err := sessionkit.New(store, sessionkit.Config{Observer: obs})
package prom

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
)

// Observer counts and times store operations. Metrics, all labelled by
// operation (load, create, commit, touch, renew, update, delete):
//
//	sessionkit_store_operations_total{op,result}  result: ok, not_found, error
//	sessionkit_store_duration_seconds{op}         histogram
//	sessionkit_store_bytes_total{op}              encoded bytes read or written
//
// and the lifecycle events, which the store metrics leave out:
//
//	sessionkit_session_events_total{change}       change: created, renewed, destroyed, revoked, expired
type Observer struct {
	ops      *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	changes  *prometheus.CounterVec
	byOp     [256]opMetrics // by sessionkit.Op, a uint8
}

// opMetrics are one operation's metrics, each looked up on its first use
// and kept: WithLabelValues hashes its labels and takes a lock on every
// call, several times a request.
type opMetrics struct {
	results  [3]child[prometheus.Counter] // by result: ok, not_found, error
	duration child[prometheus.Observer]
	bytes    child[prometheus.Counter]
}

var results = [...]string{"ok", "not_found", "error"}

// child is a metric's child, looked up once. Two first uses at once may
// both look it up: they find the same child.
type child[T any] struct{ p atomic.Pointer[T] }

func (c *child[T]) get(lookup func() T) T {
	if p := c.p.Load(); p != nil {
		return *p
	}
	v := lookup()
	c.p.Store(&v)
	return v
}

var _ sessionkit.Observer = (*Observer)(nil)

// New registers the metrics with reg and returns the Observer. It panics if
// they are already registered with reg, as prometheus.MustRegister does.
func New(reg prometheus.Registerer) *Observer {
	o := &Observer{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionkit_store_operations_total",
			Help: "Session store operations by operation and result.",
		}, []string{"op", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sessionkit_store_duration_seconds",
			Help:    "Time spent in the session store, by operation.",
			Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1},
		}, []string{"op"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionkit_store_bytes_total",
			Help: "Encoded session bytes read or written, by operation.",
		}, []string{"op"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionkit_session_events_total",
			Help: "Sessions created, renewed, destroyed, revoked (one per RevokeAll) and expired (as the store reports them).",
		}, []string{"change"}),
	}
	reg.MustRegister(o.ops, o.duration, o.bytes, o.changes)
	return o
}

// Observe implements sessionkit.Observer.
func (o *Observer) Observe(_ context.Context, e sessionkit.Event) {
	if e.Change != 0 {
		o.changes.WithLabelValues(e.Change.String()).Inc()
		return
	}
	result := 0 // ok
	switch {
	case e.Err == nil && !e.Found, errors.Is(e.Err, sessionkit.ErrNotFound):
		result = 1
	case e.Err != nil:
		result = 2
	}
	op := e.Op.String()
	m := &o.byOp[e.Op]
	m.results[result].get(func() prometheus.Counter { return o.ops.WithLabelValues(op, results[result]) }).Inc()
	m.duration.get(func() prometheus.Observer { return o.duration.WithLabelValues(op) }).Observe(e.Duration.Seconds())
	if e.Bytes > 0 {
		m.bytes.get(func() prometheus.Counter { return o.bytes.WithLabelValues(op) }).Add(float64(e.Bytes))
	}
}
