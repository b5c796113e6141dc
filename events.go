package sessionkit

import (
	"context"

	"github.com/sessionkit/sessionkit/internal/token"
)

// Change names a session's lifecycle event, for an Observer. An Event with
// a Change reports the session's life, not a store operation: its Op is
// zero.
type Change uint8

// The lifecycle events an Observer sees.
const (
	// Created: the Manager stored a new session.
	Created Change = iota + 1
	// Renewed: the Manager moved a session to a new token (Renew,
	// SetPrincipal); Event.OldID names the token it left.
	Renewed
	// Destroyed: the Manager deleted a session (Destroy). A store's
	// Delete does not say whether the session still existed, so a logout
	// submitted twice, or one of a session that had expired, is reported
	// again.
	Destroyed
	// Revoked: Manager.RevokeAll deleted every session of
	// Event.Principal. Its ID is empty: the stores delete by principal
	// without listing the sessions (Manager.Sessions lists them first,
	// when an application needs their IDs).
	Revoked
	// Expired: the store removed a session past its idle deadline or its
	// absolute deadline. It comes from the store's own expiry, through
	// ExpiryNotifier, with the store's context rather than a request's.
	Expired
)

var changeNames = [...]string{"", "created", "renewed", "destroyed", "revoked", "expired"}

func (c Change) String() string {
	if int(c) < len(changeNames) {
		return changeNames[c]
	}
	return "unknown"
}

// ID returns the token's session ID: the hex SHA-256 of the token, the key
// a server-side store files the session under (Token.Hash) and Info.ID. It
// names a session in logs and events without giving its token away.
func (t Token) ID() string { return token.ID(t.Hash()) }

// Expiry is a session a store removed because it expired.
type Expiry struct {
	// ID is the session's ID (Token.ID).
	ID string
	// Principal is the session's principal, "" when anonymous or when
	// the store cannot tell (see the store's documentation).
	Principal string
}

// ExpiryNotifier is implemented by a store that reports the sessions its
// own expiry removes (a sweep, a database janitor, a Redis keyspace
// notification). New registers a function with every store that implements
// it when Config.Observer is set, and the Manager's Observer then sees an
// Event with Change Expired for each session.
//
// NotifyExpired adds fn to the functions the store calls, for as long as
// the store lives; it never removes one, so several Managers on one store
// each get every expiry. The store calls fn from its own goroutine, never
// while holding a lock, with batches of one or more sessions (which fn
// must not modify or keep) and a context that ends when the store closes. Each store's documentation states its
// delivery guarantee: whether an expiry may be missed or reported twice,
// and how late it may come.
type ExpiryNotifier interface {
	NotifyExpired(fn func(ctx context.Context, expired []Expiry))
}

// changed reports a lifecycle event to the Observer. Callers check that
// there is an Observer first, so that without one no ID is computed.
func (m *Manager) changed(ctx context.Context, c Change, t, old Token, principal string) {
	e := Event{Change: c, Principal: principal}
	if t != "" {
		e.ID = t.ID()
	}
	if old != "" {
		e.OldID = old.ID()
	}
	m.cfg.Observer.Observe(ctx, e)
}

// expired passes a store's expiries to the Observer.
func (m *Manager) expired(ctx context.Context, expired []Expiry) {
	for _, x := range expired {
		m.cfg.Observer.Observe(ctx, Event{Change: Expired, ID: x.ID, Principal: x.Principal})
	}
}
