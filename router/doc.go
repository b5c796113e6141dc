// Package router is a reverse proxy that sends every request of a session
// to the same backend node, by consistent hashing on the ring the nodes
// share (package ring).
//
// The routing key is, in a configurable order of precedence, the sessionkit
// session token (hashed with SHA-256, the same key the cluster store
// places sessions by), the client address (X-Forwarded-For honoured only
// from trusted proxies), a header, a cookie or a query parameter. A request
// with no key has no affinity to keep: it goes to the least-loaded healthy
// node, whose minted token then keeps it there (see package placement).
//
// Health: active checks (GET /healthz each second; 2 failures mark a node
// down, 2 passes bring it back) and passive detection (a connection refused
// marks it down at once). A request whose connection was refused, or an
// idempotent bodiless one reset before any response, is retried once on
// the key's next preference. An unhealthy node's keys go to their next
// preference — on the ring, the node that holds their backup — and come back
// when it recovers; no other key moves.
//
// Serving: Router is an http.Handler, and Server serves it with a fast
// path for plain HTTP/1.1: requests net/http would read identically are
// parsed, routed and forwarded by the router itself over pooled keep-alive
// connections (TCP to http:// members, TLS to https:// ones), with the
// same retries, metrics and access log; anything else (Transfer-Encoding,
// Expect, Upgrade, HTTP/1.0, large heads or bodies, TLS from clients) is
// served by net/http. Every key kind takes the fast path,
// found in the raw head without allocating and exactly as the net/http
// path finds it (a differential fuzz test holds the two together): the
// client address, X-Forwarded-For and Forwarded believed only from
// Config.TrustedProxies, a header, a cookie, a query parameter, and the
// fallbacks between them.
//
// Backends cannot cross responses between users: a backend connection
// goes back to the pool only at a message boundary, with nothing buffered
// past the response, and is handed out again only after a non-blocking
// peek finds nothing readable on it. A body on a HEAD, 1xx, 204 or 304
// response, or bytes past the declared length, close that connection, as
// net/http does ("Unsolicited response received on idle HTTP channel").
// The rule holds on both paths: the net/http path (TLS clients, HTTP/2
// included; connections the fast path hands over) forwards through the default Transport, an HTTP/1.1
// client over the same pools, not through net/http's Transport, which
// puts a connection back in its pool before it peeks, so that under load
// a request quick enough gets stray bytes sent with the response before.
// One limit remains, which net/http shares: bytes a backend sends after
// the check, while the next request is on its way, cannot be told from
// that request's response. https:// backends take both paths too, over
// pooled TLS connections (trusting the CAs of Config.BackendTLS,
// presenting its client certificate): the check also finds what the TLS
// connection holds, decrypted or not. A Config.Transport given is used as
// given: the rule does not cover it.
// Response heads are held to http.ReadResponse
// (a differential fuzz test): fields with bare CR, LF or NUL, conflicting
// lengths and malformed chunks are refused with 502. No input ends the
// process: a panic serving a client connection is logged with its stack,
// counted (sessionkit_router_panics_total) and closes that connection only.
//
// Tracing: with Config.Trace set (package otelsession gives one on
// OpenTelemetry), each request is a sessionkit.route span, the child of
// the client's traceparent if it sent one, and the backend gets the
// span's traceparent. Traced requests take the net/http path.
//
// Routers share no state: any number of them with the same members and
// ring configuration route every key identically.
package router
