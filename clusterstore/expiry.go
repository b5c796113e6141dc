package clusterstore

import (
	"context"

	"github.com/sessionkit/sessionkit"
)

var _ sessionkit.ExpiryNotifier = (*Store)(nil)

// NotifyExpired implements sessionkit.ExpiryNotifier: every
// Config.SweepInterval, fn gets the expired sessions the node removed
// while it owned them. Each node reports the keys it owns, so a Manager on
// every node hears of every expiry in the cluster; see the package doc for
// the guarantee.
func (s *Store) NotifyExpired(fn func(ctx context.Context, expired []sessionkit.Expiry)) {
	s.table.expired.Add(fn)
}

// owns reports whether this node owns the key under the current view.
func (s *Store) owns(h [32]byte) bool {
	v := s.view.Load()
	if v == nil || v.ring == nil {
		return false
	}
	owners := v.owners(h, 1)
	return len(owners) > 0 && owners[0] == s.cfg.Name
}
