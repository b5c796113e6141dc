package router

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// Tracer traces the router's hop: each request is a span, the child of
// the trace context the client sent if any, and the request forwarded to
// the backend carries the span's context in its headers (W3C's
// traceparent), so that the backend's spans are its children. Package
// otelsession implements it on OpenTelemetry. Its methods may be called
// concurrently.
type Tracer interface {
	// Start starts a span named name, a child of the span in ctx if
	// any, and returns the context holding it and the function that
	// ends it with the request's outcome (nil: success).
	Start(ctx context.Context, name string) (context.Context, func(error))
	// Inject returns the trace context of ctx as the headers a
	// propagator writes, or nil when ctx holds none.
	Inject(ctx context.Context) map[string]string
	// Extract returns ctx holding the remote trace context that carrier,
	// read from a request's headers, describes.
	Extract(ctx context.Context, carrier map[string]string) context.Context
	// Fields names the headers Extract reads and Inject writes.
	Fields() []string
}

// spanRoute is the span of one request through the router.
const spanRoute = "sessionkit.route"

// traceIn starts the span of a request through the router.
func (rt *Router) traceIn(r *http.Request) (context.Context, func(error)) {
	tr := rt.cfg.Trace
	ctx := r.Context()
	var carrier map[string]string
	for _, f := range tr.Fields() {
		if v := r.Header.Get(f); v != "" {
			if carrier == nil {
				carrier = map[string]string{}
			}
			carrier[f] = v
		}
	}
	if carrier != nil {
		ctx = tr.Extract(ctx, carrier)
	}
	return tr.Start(ctx, spanRoute)
}

// traceOut sets the trace headers of the request forwarded to a backend:
// the router's span's, in place of the client's.
func (rt *Router) traceOut(ctx context.Context, h http.Header) {
	tr := rt.cfg.Trace
	for _, f := range tr.Fields() {
		h.Del(f)
	}
	for k, v := range tr.Inject(ctx) {
		h.Set(k, v)
	}
}

// statusErr is the outcome a span records for a response: an error for
// a 5xx, which the router or the backend failed.
func statusErr(code int) error {
	if code < 500 {
		return nil
	}
	return errors.New(strconv.Itoa(code) + " " + http.StatusText(code))
}
