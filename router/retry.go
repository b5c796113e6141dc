package router

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
)

// retryTransport retries a request that failed before reaching its
// backend on the key's next preference, once.
type retryTransport struct {
	rt   *Router
	base http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rr := req.Context().Value(routeKey{}).(*route)
	body := &trackedBody{ReadCloser: req.Body}
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = body
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && rr.tooMany.Load() {
		resp.Body.Close() // the final response came too, after too many 1xx
		return nil, errTooManyInformational
	}
	for attempt := 0; err != nil && attempt < 1; attempt++ {
		failed := rr.prefs[rr.i]
		t.rt.markDown(failed, err)
		if rr.i+1 >= len(rr.prefs) || !retryable(req, err, body) {
			break
		}
		rr.i++
		next := rr.prefs[rr.i]
		t.rt.metrics.reroute(failed.Name, next.Name)
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = next.url.Scheme, next.url.Host
		resp, err = t.base.RoundTrip(out)
	}
	if err != nil {
		t.rt.markDown(rr.prefs[rr.i], err)
	}
	return resp, err
}

// markDown marks b unhealthy when err shows it refuses connections: the
// passive check. The active checks bring it back.
func (rt *Router) markDown(b *backend, err error) {
	if isDialError(err) && b.markDown() {
		rt.metrics.unhealthy(b.Name)
		rt.cfg.Logger.Warn("router: backend unreachable", "backend", b.Name, "err", err.Error())
	}
}

// retryable reports whether a failed request may go to another backend:
// it never reached the first (a dial error), or it is idempotent and sent
// no body.
func retryable(req *http.Request, err error, body *trackedBody) bool {
	if body.read.Load() {
		return false
	}
	if isDialError(err) {
		return true
	}
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions
	return idempotent && (req.Body == nil || req.Body == http.NoBody) &&
		(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// trackedBody records whether any of the request body was read, and keeps
// it open across a retry.
type trackedBody struct {
	io.ReadCloser
	read atomic.Bool // set by the transport's writer
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.read.Store(true)
	}
	return n, err
}

func (b *trackedBody) Close() error { return nil } // the server closes the request body
