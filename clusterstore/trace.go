package clusterstore

import (
	"context"
	"net/http"
	"strings"
)

// Tracer traces the data plane: the call that forwards an operation to
// its key's owner, the replication of a write to the backups, and its
// apply at each backup. The trace context travels inside the data plane
// (authenticated and encrypted as the rest of it): in a call's headers,
// and in each replication message, so that a backup's apply is the child
// of the owner's replicate span although messages of several requests
// share one batch. Package otelsession implements it on OpenTelemetry.
//
// Its methods may be called concurrently. A node whose Config.Trace is
// nil sends exactly what it sent before tracing existed; a message that
// carries a trace context can be read only by nodes of this version or
// later, so turn tracing on once every node runs one.
type Tracer interface {
	// Start starts a span named name, a child of the span in ctx if
	// any, and returns the context holding it and the function that
	// ends it with the operation's outcome: nil or an error that wraps
	// sessionkit.ErrNotFound is no failure.
	Start(ctx context.Context, name string) (context.Context, func(error))
	// Inject returns the trace context of ctx as the key-value pairs a
	// propagator writes (W3C's traceparent and tracestate), or nil when
	// ctx holds none.
	Inject(ctx context.Context) map[string]string
	// Extract returns ctx holding the remote trace context that carrier,
	// made by Inject in another process, describes.
	Extract(ctx context.Context, carrier map[string]string) context.Context
}

// The spans the store starts.
const (
	spanForward   = "sessionkit.forward"   // an operation sent to its key's owner
	spanReplicate = "sessionkit.replicate" // a write sent to its backups, until the acks Config.Ack asks for
	spanApply     = "sessionkit.apply"     // a replicated write applied at a backup
	spanServe     = "sessionkit.serve."    // a traced call served, by the call's name: sessionkit.serve.commit
)

// traceHeader prefixes the headers that carry a call's trace context,
// one per key of the carrier: Sessionkit-Trace-Traceparent.
const traceHeader = "Sessionkit-Trace-"

// start starts a span when the store traces, and returns ctx and a no-op
// otherwise.
func (s *Store) start(ctx context.Context, name string) (context.Context, func(error)) {
	if s.cfg.Trace == nil {
		return ctx, noEnd
	}
	return s.cfg.Trace.Start(ctx, name)
}

func noEnd(error) {}

// inject returns the trace context of ctx to send, nil when the store
// does not trace.
func (s *Store) inject(ctx context.Context) map[string]string {
	if s.cfg.Trace == nil {
		return nil
	}
	return s.cfg.Trace.Inject(ctx)
}

// injectHeader sets a call's trace headers.
func (s *Store) injectHeader(ctx context.Context, h http.Header) {
	for k, v := range s.inject(ctx) {
		h.Set(traceHeader+k, v)
	}
}

// serveTraced returns the context a call is served in: when the caller
// sent a trace context, a span named after the call, its child.
func (s *Store) serveTraced(r *http.Request, path string) (context.Context, func(error)) {
	ctx := r.Context()
	if s.cfg.Trace == nil {
		return ctx, noEnd
	}
	var carrier map[string]string
	for k, v := range r.Header {
		if len(v) > 0 && len(k) > len(traceHeader) && strings.EqualFold(k[:len(traceHeader)], traceHeader) {
			if carrier == nil {
				carrier = map[string]string{}
			}
			carrier[strings.ToLower(k[len(traceHeader):])] = v[0]
		}
	}
	if carrier == nil {
		return ctx, noEnd
	}
	return s.cfg.Trace.Start(s.cfg.Trace.Extract(ctx, carrier), spanServe+strings.TrimPrefix(path, "/rpc/"))
}
