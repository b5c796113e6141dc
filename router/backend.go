package router

import (
	"net/http/httputil"
	"net/url"
	"sync/atomic"
)

// backend is one member as the router sees it. Its state outlives member
// list changes: a member that stays keeps its health and load.
type backend struct {
	Member
	url *url.URL
	// fast reports whether the fast path may forward to it: HTTP or
	// HTTPS, no path of its own.
	fast bool
	pool *connPool // its connections, shared by the fast path and Transport

	healthy  atomic.Bool
	draining atomic.Bool
	inflight atomic.Int64

	// Health check streaks: passing and failing checks in a row.
	okStreak, failStreak atomic.Int32
}

// newBackend returns the backend for m; its connections come from t when
// t is not nil.
func newBackend(m Member, t *Transport) (*backend, error) {
	u, err := url.Parse(m.URL)
	if err != nil {
		return nil, err
	}
	b := &backend{Member: m, url: u}
	web := u.Scheme == "http" || u.Scheme == "https"
	if t != nil && web {
		b.pool = t.pool(u)
	} else {
		b.pool = &connPool{addr: u.Host}
	}
	b.fast = web && (u.Path == "" || u.Path == "/") && u.RawQuery == ""
	b.healthy.Store(true) // optimistic: passive checks catch a dead one at once
	return b, nil
}

// markDown marks the backend unhealthy after a failed request; the
// active checks must then pass Rise times in a row to bring it back.
func (b *backend) markDown() bool {
	b.okStreak.Store(0)
	return b.healthy.Swap(false)
}

// usable reports whether the backend may take a request; fresh requests
// (with no affinity to keep) avoid draining backends too.
func (b *backend) usable(fresh bool) bool {
	return b.healthy.Load() && !(fresh && b.draining.Load())
}

// rewrite points an outgoing request at the backend.
func (b *backend) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(b.url)
	pr.Out.Host = pr.In.Host // the backend sees the client's Host, as nginx's proxy_set_header Host $host
}
