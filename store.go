package sessionkit

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	"github.com/sessionkit/sessionkit/internal/token"
)

// Token is what a client holds to name its session. For a server-side store
// it is 256 random bits in base64url; for a client-side store it is the
// sealed session itself. A Token never appears in logs: its LogValue is a
// short hash.
type Token string

// LogValue implements slog.LogValuer: a short, non-reversible hash.
func (t Token) LogValue() slog.Value { return slog.StringValue(token.Short(string(t))) }

// String returns the short hash too, so that fmt never prints a token.
func (t Token) String() string { return token.Short(string(t)) }

// Hash returns the SHA-256 of the token. Server-side stores file records
// under it and never under the token itself, so a leaked dump of a store
// holds no usable token.
func (t Token) Hash() [32]byte { return token.Hash(string(t)) }

// NewToken returns a fresh 256-bit token from crypto/rand.
func NewToken() Token { return Token(token.New()) }

// Meta is what a store keeps about a session besides its values.
type Meta struct {
	// Principal is the logged-in user the session belongs to, "" for an
	// anonymous session. Stores that implement Principals index it.
	Principal string
	// Created is when the session was created.
	Created time.Time
	// IdleDeadline is when the session expires unless it is used again;
	// every commit and touch moves it. Stores must not return a record
	// past it.
	IdleDeadline time.Time
	// Deadline is the absolute end of the session, whatever its use.
	// Stores must not return a record past it.
	Deadline time.Time
	// IdleTimeout is the session's own idle timeout, which the Manager
	// uses to move IdleDeadline. It differs from the Manager's default
	// when the session overrides it.
	IdleTimeout time.Duration
	// Persistent marks a remember-me session, whose cookie outlives the
	// browser session.
	Persistent bool
	// Generation is the principal's generation when the session was
	// logged in; client-side stores use it to revoke sessions (see
	// Generations). Server-side stores store it and need not read it.
	Generation uint64
}

// Expired reports whether the session has passed either deadline at now.
func (m *Meta) Expired(now time.Time) bool {
	return !now.Before(m.IdleDeadline) || !now.Before(m.Deadline)
}

// Record is a whole session as a store holds it.
type Record struct {
	Meta
	// Values holds each key's value, encoded by the Manager's Codec.
	Values map[string][]byte
}

// Values reads a session's encoded values where a store keeps them, without
// copying them into a map. Its methods may be called concurrently, and the
// slices they hand out must not be modified.
type Values interface {
	// Value returns the encoded value of key, and whether the session
	// holds key. It may scan the record, so a caller that reads every
	// key ranges over All instead.
	Value(key string) ([]byte, bool)
	// All calls yield with each key and its encoded value, in no
	// particular order, until yield returns false.
	All(yield func(key string, value []byte) bool)
	// Size returns the lengths of the keys and values added up.
	Size() int
}

// LazyLoader is implemented by a store that keeps each session encoded in
// one piece and can hand it out without decoding its values into a map
// (memstore, clusterstore). The Manager then reads only the keys a request
// asks for, from the store's own record, and never builds a map of the
// values it loaded. LoadLazy follows Load's contract (what found and err
// mean, and that the store may hand out its own immutable record) and
// must agree with Load on the session it returns: the same metadata and
// the same values.
//
// A type that embeds a store and overrides Load (to audit, check a tenant
// or inject faults) must override LoadLazy too, or hide it: otherwise the
// embedded LoadLazy would answer in its place. LazyStore is the guard: it
// returns the store whose Load LoadLazy stands for, the receiver itself,
// and the Manager uses LoadLazy only when LazyStore returns a store of the
// type it was given (see Lazy). A wrapper inherits LazyStore along with
// LoadLazy, and its LazyStore returns the embedded store, so the Manager
// reads it through its Load; a wrapper that overrides LoadLazy overrides
// LazyStore too, to return itself.
type LazyLoader interface {
	LoadLazy(ctx context.Context, t Token) (meta Meta, values Values, found bool, err error)
	LazyStore() Store
}

// Lazy returns store as the LazyLoader the Manager loads it through, or
// false when the Manager uses its Load: store is no LazyLoader, or it
// inherits LoadLazy from a store it embeds (its LazyStore returns a store
// of another type).
func Lazy(store Store) (LazyLoader, bool) {
	l, ok := store.(LazyLoader)
	if !ok || reflect.TypeOf(l.LazyStore()) != reflect.TypeOf(store) {
		return nil, false
	}
	return l, true
}

// mapValues is the Values of a Record's map.
type mapValues map[string][]byte

func (m mapValues) Value(key string) ([]byte, bool) {
	b, ok := m[key]
	return b, ok
}

func (m mapValues) Size() int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

func (m mapValues) All(yield func(key string, value []byte) bool) {
	for k, v := range m {
		if !yield(k, v) {
			return
		}
	}
}

// Entry is one key of a session and its encoded value.
type Entry struct {
	Key   string
	Value []byte
}

// Delta is the change one request made to a session: the keys it set and
// deleted, and its new deadlines. Its slices are the caller's: a store
// must not modify them, and copies them to keep them after the call; the
// values' bytes are never modified by either side, and may be kept.
type Delta struct {
	// Set holds the new encoded value of each key the request set, each
	// key once.
	Set []Entry
	// Deleted lists the keys the request deleted.
	Deleted []string
	// IdleDeadline is the session's new idle deadline.
	IdleDeadline time.Time
	// Meta, when not nil, replaces the session's Meta (its
	// IdleDeadline included): the request logged in, logged out or
	// changed the session's lifetimes.
	Meta *Meta
}

// Empty reports whether the delta changes no value and no metadata.
func (d *Delta) Empty() bool { return len(d.Set) == 0 && len(d.Deleted) == 0 && d.Meta == nil }

// UpdateFunc computes a key's new encoded value from its current one (nil
// and false when the key is absent). Returning a nil slice deletes the key.
// It may be called more than once, so it must have no side effects.
type UpdateFunc func(old []byte, ok bool) ([]byte, error)

// Store keeps sessions. Every implementation passes the conformance suite in
// package storetest.
//
// Tokens: every method that writes returns the token the client must hold
// from then on. A server-side store returns the token it was given (or, for
// Renew, the new one); a client-side store, whose token is the sealed
// session, returns a new sealed token. A server-side store files records
// under Token.Hash, never under the token itself.
//
// Missing records: Load reports a record that does not exist, has expired
// (past Meta.IdleDeadline or Meta.Deadline) or cannot be opened with
// found=false and a nil error. The write methods return ErrNotFound for such
// a record and never recreate it: a commit that races a logout, a renew or a
// revoke writes nothing. The error result is for system failures only (the
// store is unreachable, the context ended), which the Manager reports as
// ErrUnavailable unless the error is one of this package's sentinels.
//
// Sharing: the Manager never modifies a Record or Delta it passes to or gets
// from a store, and a store must not modify one it was passed, or one after
// returning it, so a store may return its own immutable copy from Load. A
// store copies a Record's map or a Delta's slices to keep them; the value
// bytes in them are never modified, and may be kept as they are.
//
// Concurrency: all methods may be called concurrently, for the same token
// too. Commit applies only the keys of its delta, so concurrent commits to
// different keys of one session both survive; Update is atomic for its key.
type Store interface {
	// Load returns the session the token names.
	Load(ctx context.Context, t Token) (rec Record, found bool, err error)

	// Create stores a new session under a token the Manager minted.
	Create(ctx context.Context, t Token, rec Record) (Token, error)

	// Commit applies a delta to an existing session, atomically.
	Commit(ctx context.Context, t Token, d Delta) (Token, error)

	// Touch moves an existing session's idle deadline: a commit with
	// an empty delta, which a store may make cheaper.
	Touch(ctx context.Context, t Token, idleDeadline time.Time) (Token, error)

	// Renew moves an existing session to the token next, which the
	// Manager minted; the old token names no session afterwards. It may
	// be a copy followed by a delete. Of concurrent Renews of one token
	// exactly one succeeds; the others return ErrNotFound (or
	// ErrConflict) and store nothing under their next token.
	Renew(ctx context.Context, old, next Token) (Token, error)

	// Update replaces one key's value with fn's result, atomically with
	// respect to every other write of that key (optimistic concurrency
	// with bounded retries; ErrConflict when they run out). It also
	// moves the idle deadline to idleDeadline.
	Update(ctx context.Context, t Token, key string, idleDeadline time.Time, fn UpdateFunc) (Token, error)

	// Delete removes the session. Deleting a missing session is not an
	// error.
	Delete(ctx context.Context, t Token) error
}

// Minter mints the tokens of new and renewed sessions. A store implements it
// when it must choose its tokens (a cluster store mints tokens whose ring
// owner is the local node); Config.Minter, when set, takes precedence.
// Mint may be called concurrently.
type Minter interface {
	Mint(ctx context.Context) (Token, error)
}

// TokenChecker is implemented by a store whose tokens are not the Manager's
// 43-character random tokens (a client-side store's sealed tokens).
// ValidToken is called on every token a client sends, before any store
// access, and must be cheap: a token it rejects starts a fresh session.
type TokenChecker interface {
	ValidToken(s string) bool
}

// CookieBound is implemented by a store whose tokens are made for one
// cookie (the cookie store seals each session for its cookie's name and
// keeps it under a length). New refuses a Manager whose CookieTransport
// carries another cookie, or carries less than the longest token the store
// writes, which would otherwise fail only at the first request.
type CookieBound interface {
	// CookieBinding returns the cookie's name and the longest token the
	// store writes.
	CookieBinding() (name string, maxTokenLen int)
}

// Info describes one session of a principal, without its token.
type Info struct {
	// ID is the hex SHA-256 of the session's token.
	ID string
	Meta
}

// Principals is implemented by stores that index sessions by principal, for
// "log out everywhere".
type Principals interface {
	// Sessions lists the live sessions of the principal.
	Sessions(ctx context.Context, principal string) ([]Info, error)
	// RevokeAll deletes every session of the principal and returns how
	// many it deleted, or -1 when the store cannot count them (a
	// client-side store revokes by generation).
	RevokeAll(ctx context.Context, principal string) (int, error)
}

// Generations keeps a counter per principal. A client-side store, which
// cannot delete a cookie it has handed out, records the principal's
// generation in each session it seals and refuses sessions of an older
// generation once Bump has moved it on. Server-side stores implement it so
// that any of them can back a client-side store's revocation.
type Generations interface {
	// Generation returns the principal's current generation (0 when it
	// was never bumped).
	Generation(ctx context.Context, principal string) (uint64, error)
	// Bump increments the principal's generation and returns the new one.
	Bump(ctx context.Context, principal string) (uint64, error)
}

// MultiGenerations is implemented by a Generations store that reads
// several counters in one round trip. A client-side store that revokes
// single sessions checks two counters on every request, the principal's
// and the session's, and reads them together when it can.
type MultiGenerations interface {
	Generations
	// Generations returns the counter of each name, in the order given,
	// as Generation returns it: 0 for a counter never bumped or forgotten.
	Generations(ctx context.Context, names ...string) ([]uint64, error)
}

// ExpiringGenerations is implemented by a Generations store that can
// forget a counter once it no longer matters. A client-side store that
// revokes single sessions bumps one counter per ended session; that
// counter matters only until the session's deadline, after which the
// session's cookie no longer opens anyway. Without this interface such
// counters are kept for good.
type ExpiringGenerations interface {
	Generations
	// BumpUntil is Bump for a counter that matters until deadline. The
	// store keeps the counter at least until the latest deadline any
	// BumpUntil gave it (and for good once Bump has bumped it), and
	// may forget it afterwards: Generation then returns 0.
	BumpUntil(ctx context.Context, name string, deadline time.Time) (uint64, error)
}
