// Package placement places sessions on the ring that routers and nodes
// share: a session lives on the ring owner of the SHA-256 of its token.
//
// A node that mints its sessions' tokens with a Minter keeps every session
// it creates: the router, hashing the same token on the same ring, sends
// the session's requests back to it. That is sticky routing without a
// cookie of the router's own, and without a login moving a user to another
// node:
//
//	r, _ := ring.New(ring.Config{}, members) // the router's members and ring configuration
//	mgr, _ := sessionkit.New(store, sessionkit.Config{Minter: placement.NewMinter("n1", func() *ring.Ring { return r })})
package placement

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/routing"
	"github.com/sessionkit/sessionkit/ring"
)

// Key returns the ring key of a session token: its SHA-256, the key the
// router hashes too.
func Key(t sessionkit.Token) [32]byte { return routing.Key(t) }

// Owner returns the node that owns the token on r.
func Owner(r *ring.Ring, t sessionkit.Token) string {
	k := Key(t)
	var buf [1]string
	return r.Owners(k[:], 1, buf[:0])[0]
}

// Minter mints tokens whose ring owner is one node. It implements
// sessionkit.Minter.
type Minter struct {
	self string
	ring func() *ring.Ring
}

var _ sessionkit.Minter = (*Minter)(nil)

// NewMinter returns a Minter for the node self, on the ring current returns
// (called on every mint, so that it may change).
func NewMinter(self string, current func() *ring.Ring) *Minter {
	return &Minter{self: self, ring: current}
}

// Mint draws random tokens until one is owned by the node: about N tries
// on a ring of N equal nodes, each a SHA-256 and a lookup.
func (m *Minter) Mint(ctx context.Context) (sessionkit.Token, error) {
	r := m.ring()
	if r == nil {
		return "", fmt.Errorf("placement: no ring")
	}
	for range 10000 {
		t := sessionkit.NewToken()
		if Owner(r, t) == m.self {
			return t, nil
		}
	}
	return "", fmt.Errorf("placement: node %q owns no part of the ring", m.self)
}
