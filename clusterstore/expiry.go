package clusterstore

import (
	"context"
	"log/slog"

	"github.com/sessionkit/sessionkit"
)

var _ sessionkit.ExpiryNotifier = (*Store)(nil)

// NotifyExpired implements sessionkit.ExpiryNotifier: every
// Config.SweepInterval, fn gets the expired sessions the node removed
// while it owned them. Each node reports the keys it owns, so a Manager on
// every node hears of every expiry in the cluster; see the package doc for
// the guarantee. fn runs on a goroutine of its own: a slow one holds up no
// other work of the node, but when it falls 16 sweeps behind, the sweeps'
// expiries are dropped and logged.
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

// handOver passes a sweep's expiries to deliverExpiries without waiting,
// so that a slow Observer never holds up the background work that
// restores backups after a crash. When the queue is full, the batch is
// dropped and logged.
func (s *Store) handOver(batch []sessionkit.Expiry) {
	if len(batch) == 0 {
		return
	}
	select {
	case s.expiries <- batch:
	default:
		s.cfg.Logger.Warn("clusterstore: expiry events dropped: the Observer is slower than the sweeps", slog.Int("sessions", len(batch)))
	}
}

// deliverExpiries calls the functions NotifyExpired registered, on a
// goroutine of its own, until Close.
func (s *Store) deliverExpiries() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case batch := <-s.expiries:
			s.table.expired.Deliver(s.life, batch)
		}
	}
}
