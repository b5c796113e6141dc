// Package sessionkit is distributed HTTP session management for Go.
//
// A web application on several servers must find a user's session on
// whichever server a request lands. sessionkit offers the four classic
// answers behind one API, each with the weakness it is known for removed or
// measured:
//
//   - replication between nodes (package clusterstore),
//   - the session in a sealed client-side cookie (package cookiestore),
//   - a load balancer hashing each client to one node (package router, with
//     package ring),
//   - a central store (packages redisstore, pgstore and sqlitestore).
//
// The Manager is net/http middleware. It reads the session's token from the
// request (a cookie by default, or a header), loads the session from a Store
// only when the handler first uses it, tracks which keys the handler changed,
// and commits them as a delta once, just before the response's header is
// written. Handlers reach their session through the request's context:
//
//	store := memstore.New(memstore.Config{})
//	mgr, err := sessionkit.New(store, sessionkit.Config{})
//	...
//	http.ListenAndServe(addr, mgr.Handler(mux))
//
//	func cart(w http.ResponseWriter, r *http.Request) {
//		s := sessionkit.FromContext(r.Context())
//		user, _ := sessionkit.Get[string](s, "user")
//		...
//	}
//
// # Security defaults
//
// Tokens are 256 bits from crypto/rand; server-side stores keep only their
// SHA-256. The cookie is HttpOnly, Secure, SameSite=Lax, Path=/, named with
// the __Host- prefix (or __Secure- with a Domain). Sessions end after an idle
// timeout and an absolute lifetime, both enforced on the server.
// Session.SetPrincipal renews the token at login, defeating fixation.
// Garbage, tampered, expired or oversized tokens start a fresh session.
// Responses built from a session carry Vary (Cookie, or the token's
// header), and responses that set, renew or clear a token carry
// Cache-Control: no-store (Config.DisableCacheHeaders turns both off).
//
// # Errors
//
// When the store fails before the response is committed, the Manager answers
// with Config.ErrorHandler instead of the handler's response: 503 when the
// store is unavailable, 409 when a concurrent change won (a renew that
// lost to a concurrent one included: no token is sent, so the client keeps
// the winner's), 500 when the session is too large. See ErrorStatus. A
// write after the response's header was written returns ErrCommitted.
package sessionkit
