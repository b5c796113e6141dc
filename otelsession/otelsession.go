// Package otelsession traces sessionkit with OpenTelemetry: a span for
// each store operation a Manager makes (sessionkit.load,
// sessionkit.commit, ...), for the cluster store's forwarding and
// replication, and for the router's hop, with the trace context carried
// between nodes and to the backends.
//
// A Tracer is a sessionkit.Observer (set it as Config.Observer), a
// clusterstore.Tracer (Config.Trace) and a router.Tracer (Config.Trace):
//
//	tr := otelsession.New(provider)
//	mgr, err := sessionkit.New(store, sessionkit.Config{Observer: tr})
//
// The store is called with the operation's span in its context, so a
// store's own spans (the cluster store's forward and replicate) are its
// children.
//
// A span's attributes never hold a token, nor a token's hash:
//
//	sessionkit.op      the operation: load, create, commit, touch, renew, update, delete
//	sessionkit.bytes   the encoded values read (load) or written (create, commit, update)
//	sessionkit.found   false when the session did not exist
//
// A failed operation's span has the error status and the error recorded;
// a session not found is no failure. Without a Tracer (Config.Observer
// nil) the Manager starts no span and allocates nothing for tracing.
package otelsession

import (
	"context"
	"errors"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionkit/sessionkit"
)

// ScopeName is the instrumentation scope of the spans a Tracer starts.
const ScopeName = "github.com/sessionkit/sessionkit/otelsession"

// Tracer starts sessionkit's spans. It is safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	next   sessionkit.Observer
}

var _ sessionkit.OpStarter = (*Tracer)(nil)

// An Option configures a Tracer.
type Option func(*Tracer)

// WithPropagator sets how the trace context is written to and read from
// the data plane and HTTP headers. Default propagation.TraceContext (W3C's
// traceparent and tracestate).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(t *Tracer) { t.prop = p }
}

// WithObserver passes every Event on to o after the span ends, so that a
// Manager's one Observer can both trace and, say, count (package prom).
func WithObserver(o sessionkit.Observer) Option {
	return func(t *Tracer) { t.next = o }
}

// New returns a Tracer that starts its spans with tp (nil: the global
// provider, otel.GetTracerProvider).
func New(tp trace.TracerProvider, opts ...Option) *Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Tracer{tracer: tp.Tracer(ScopeName), prop: propagation.TraceContext{}}
	for _, o := range opts {
		o(t)
	}
	return t
}

// opNames are the store operations' span names and attributes, by Op.
var opNames, opAttrs = func() (names [16]string, attrs [16]trace.SpanStartEventOption) {
	for op := range sessionkit.Op(len(names)) {
		if s := op.String(); s != "unknown" && op > 0 {
			names[op] = "sessionkit." + s
			attrs[op] = trace.WithAttributes(attribute.String("sessionkit.op", s))
		}
	}
	return names, attrs
}()

// opKey holds, in a store operation's context, the span StartOp started:
// Observe ends that span only, never one it did not start.
type opKey struct{}

type opSpan struct {
	span trace.Span
	op   sessionkit.Op
}

// StartOp implements sessionkit.OpStarter: it starts the operation's
// span, a child of the request's.
func (t *Tracer) StartOp(ctx context.Context, op sessionkit.Op) context.Context {
	if int(op) >= len(opNames) || opNames[op] == "" {
		return ctx
	}
	ctx, span := t.tracer.Start(ctx, opNames[op], opAttrs[op])
	return context.WithValue(ctx, opKey{}, opSpan{span, op})
}

// Observe implements sessionkit.Observer: it ends the span StartOp
// started for the operation, with the Event's outcome.
func (t *Tracer) Observe(ctx context.Context, e sessionkit.Event) {
	if s, ok := ctx.Value(opKey{}).(opSpan); ok && s.op == e.Op {
		if s.span.IsRecording() {
			s.span.SetAttributes(attribute.Int("sessionkit.bytes", e.Bytes), attribute.Bool("sessionkit.found", e.Found))
			fail(s.span, e.Err)
		}
		s.span.End()
	}
	if t.next != nil {
		t.next.Observe(ctx, e)
	}
}

// fail marks a span failed by err, unless err is nil or says only that a
// session was not found.
func fail(span trace.Span, err error) {
	if err == nil || errors.Is(err, sessionkit.ErrNotFound) {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// Start starts a span named name, a child of the one in ctx, and returns
// the function that ends it with the operation's outcome: it implements
// clusterstore.Tracer and router.Tracer. The span's kind follows from
// its name: server for a call served (sessionkit.serve.*) and the
// router's hop (sessionkit.route), client for a forward, producer for a
// replication, consumer for a backup's apply, internal otherwise.
func (t *Tracer) Start(ctx context.Context, name string) (context.Context, func(error)) {
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(kindOf(name)))
	return ctx, func(err error) {
		fail(span, err)
		span.End()
	}
}

func kindOf(name string) trace.SpanKind {
	switch {
	case name == "sessionkit.route", strings.HasPrefix(name, "sessionkit.serve."):
		return trace.SpanKindServer
	case name == "sessionkit.forward":
		return trace.SpanKindClient
	case name == "sessionkit.replicate":
		return trace.SpanKindProducer
	case name == "sessionkit.apply":
		return trace.SpanKindConsumer
	}
	return trace.SpanKindInternal
}

// Inject returns the trace context of ctx as the propagator writes it,
// or nil when ctx holds none: it implements clusterstore.Tracer and
// router.Tracer.
func (t *Tracer) Inject(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	t.prop.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

// Extract returns ctx holding the remote trace context in carrier: it
// implements clusterstore.Tracer and router.Tracer.
func (t *Tracer) Extract(ctx context.Context, carrier map[string]string) context.Context {
	return t.prop.Extract(ctx, propagation.MapCarrier(carrier))
}

// Fields names the headers the propagator reads and writes: it
// implements router.Tracer.
func (t *Tracer) Fields() []string { return t.prop.Fields() }
