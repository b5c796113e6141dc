package sessionkit

import "errors"

// Errors returned by the Manager, by Session methods and by stores. Compare
// them with errors.Is: stores and the Manager wrap them with context.
var (
	// ErrNotFound is returned by a Store's write methods (Commit, Touch,
	// Renew, Update) when the record does not exist: it never did, it
	// expired, or it was destroyed, renewed or revoked meanwhile. A write
	// never recreates a missing record. (Load reports a missing record
	// with found=false and a nil error instead.)
	ErrNotFound = errors.New("sessionkit: session not found")

	// ErrConflict reports a concurrent change that a request lost: an
	// Update whose compare-and-set retries ran out, a commit of changes
	// to a session that another request destroyed or renewed first, or a
	// Renew (or SetPrincipal) that found the session already renewed or
	// deleted, after which every write of the request returns it too.
	// Nothing was written; the client may retry. The default error
	// handler answers 409 Conflict, and no token is sent.
	ErrConflict = errors.New("sessionkit: conflicting concurrent change")

	// ErrTooLarge reports a session larger than the Manager's MaxSize or
	// than what the store can hold (a client-side store's cookie budget).
	// Nothing was written: the previous session is still valid. The
	// default error handler answers 500.
	ErrTooLarge = errors.New("sessionkit: session too large")

	// ErrUnavailable reports that the store could not be reached or
	// failed. The Manager wraps every store error it cannot classify
	// with it. The default error handler answers 503 Service Unavailable.
	ErrUnavailable = errors.New("sessionkit: session store unavailable")

	// ErrCommitted is returned by a Session's write methods after the
	// session was committed, which happens when the response's header is
	// written, also when the handler wrote it before its first session
	// call. A write at that point could not reach the client, so it is
	// refused rather than lost silently.
	ErrCommitted = errors.New("sessionkit: session already committed")

	// ErrRateLimited is returned when a client asks for more new sessions
	// than Config.CreateLimit allows. The default error handler answers
	// 429 Too Many Requests.
	ErrRateLimited = errors.New("sessionkit: too many new sessions from this client")

	// ErrNotSupported is returned for an operation the store does not
	// implement, such as listing the sessions of a principal.
	ErrNotSupported = errors.New("sessionkit: not supported by the store")

	// ErrNoSession is returned by the methods of a nil *Session, which
	// FromContext returns for a request that is not behind
	// Manager.Handler.
	ErrNoSession = errors.New("sessionkit: no session in context (is the handler wrapped by Manager.Handler?)")
)
