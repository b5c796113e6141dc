package sessionkit

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Config configures a Manager. Its zero value is the production default
// with the cookie transport; each field's comment states its default.
type Config struct {
	// IdleTimeout ends a session that has not been used for that long.
	// Default 30 minutes.
	IdleTimeout time.Duration

	// Lifetime ends a session that long after its creation, however
	// active. Default 24 hours.
	Lifetime time.Duration

	// RememberMeLifetime is the Lifetime of a session for which
	// Session.RememberMe(true) was called; its cookie is also kept
	// across browser restarts. Default 30 days.
	RememberMeLifetime time.Duration

	// TouchAfter is the share of the idle timeout that must have passed
	// since a session's idle deadline was last moved before a request
	// that changes nothing moves it again. A read-only request thus
	// usually writes nothing. Default 0.25; a negative value touches on
	// every request.
	TouchAfter float64

	// Transport carries the token. Default &CookieTransport{}.
	Transport Transport

	// DisableCacheHeaders stops the Manager from adding cache headers.
	// By default a response whose handler used the session varies on
	// what carries the token (Vary: Cookie, or the HeaderTransport's
	// header), and a response that sets, renews or clears a token gets
	// Cache-Control: no-store, so that no shared cache stores one user's
	// token or page and serves it to another. A Cache-Control the
	// handler set is kept, with no-store added to it unless present. (A
	// Transport other than CookieTransport and HeaderTransport gets the
	// no-store but no Vary: the Manager cannot tell what carries its
	// token.) Default false: the headers are sent.
	DisableCacheHeaders bool

	// Codec encodes values. Default BinaryCodec{}.
	Codec Codec

	// Minter mints the tokens of new and renewed sessions, so that a
	// node can choose tokens that route back to itself. Default: the
	// store, if it implements Minter, else NewToken.
	Minter Minter

	// MaxSize caps a session's encoded keys and values, in bytes. A
	// commit over it fails with ErrTooLarge. Default 1 MiB.
	MaxSize int

	// ErrorHandler writes the response when a session operation fails
	// before the handler's response was committed: the store is
	// unreachable (ErrUnavailable), the session is too large
	// (ErrTooLarge), a concurrent change won (ErrConflict) or a client
	// asked for too many sessions (ErrRateLimited). The handler's own
	// response is discarded, so the client never gets half of it.
	// Default: the status ErrorStatus gives, a short text body, and a
	// log line.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Observer receives an Event for each store operation and each
	// change of a session's life, expiries included when the store
	// implements ExpiryNotifier. Default none.
	Observer Observer

	// Logger receives the Manager's log lines. Default slog.Default().
	Logger *slog.Logger

	// CreateLimit limits how fast one client may create sessions.
	// Default nil: no limit.
	CreateLimit *CreateLimit
}

// CreateLimit limits session creation per client, so that one client
// cannot fill the store with sessions. A client is an IPv4 address or an
// IPv6 /64; the limiter keeps at most 100,000 clients' buckets.
type CreateLimit struct {
	// Rate is the sustained number of sessions per second one client
	// may create.
	Rate float64
	// Burst is how many it may create at once. Default 10.
	Burst int
	// TrustedProxies lists the proxies whose X-Forwarded-For and
	// Forwarded headers name the client. Default none: the client is the
	// connection's peer.
	TrustedProxies []netip.Prefix
}

func (c *Config) setDefaults() {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	if c.Lifetime <= 0 {
		c.Lifetime = 24 * time.Hour
	}
	if c.RememberMeLifetime <= 0 {
		c.RememberMeLifetime = 30 * 24 * time.Hour
	}
	if c.TouchAfter == 0 {
		c.TouchAfter = 0.25
	}
	if c.Transport == nil {
		c.Transport = &CookieTransport{}
	}
	if c.Codec == nil {
		c.Codec = BinaryCodec{}
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
