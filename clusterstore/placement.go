package clusterstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/clusterstore/gossip"
)

// Placement and leases. A key's owner and backups are the first nodes of
// its preference list on the view's ring; the owner serves and writes the
// key only while it holds the key's lease, a recent exchange of views with
// the key's backup (fence.go says why), and an operation on a key whose
// owner does not answer waits for gossip to name the next.

// copies is how many nodes hold each session: owner and backups.
func (s *Store) copies() int {
	if s.cfg.Backups == AllToAll {
		return 1 << 30
	}
	return s.cfg.Backups + 1
}

// owners returns the key's owner and backups under the current view.
func (s *Store) owners(h [32]byte) ([]string, *view) {
	v := s.view.Load()
	return v.owners(h, s.copies()), v
}

// Mint implements sessionkit.Minter: a token this node owns.
func (s *Store) Mint(ctx context.Context) (sessionkit.Token, error) {
	if s.view.Load().ring == nil {
		return "", ErrNoNodes
	}
	return s.minter.Mint(ctx)
}

// awaitNewOwner waits, up to FailoverWait, until the key moves away from
// an owner that does not answer (gossip declares it dead), and reports
// whether it did. Only then may another node write the key.
func (s *Store) awaitNewOwner(ctx context.Context, h [32]byte, dead string) bool {
	return s.await(ctx, func() bool {
		owners, _ := s.owners(h)
		return len(owners) > 0 && owners[0] != dead
	}) == nil
}

// await polls ok, up to FailoverWait, until it holds. It returns ctx's
// error, errClosed, or errTimeout if ok never held.
func (s *Store) await(ctx context.Context, ok func() bool) error {
	deadline := time.Now().Add(s.cfg.FailoverWait)
	for !ok() {
		if time.Now().After(deadline) {
			return errTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return errClosed
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

var errTimeout = errors.New("clusterstore: timed out")

// renewLeases exchanges views with every node four times a lease. A round
// that starts later than failure detection after the previous one means
// this process was paused (or starved): the others may have declared it
// dead and written its keys elsewhere, so it warms again.
func (s *Store) renewLeases() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.Lease / 4)
	defer tick.Stop()
	detect := s.cfg.Timing.Detect()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.renewal:
		}
		s.leaseMu.Lock()
		gap := time.Since(s.round)
		s.round = time.Now()
		s.leaseMu.Unlock()
		if gap > detect {
			s.cfg.Logger.Warn("clusterstore: this node was paused longer than failure detection; catching up", "pause", gap.Round(time.Millisecond))
			s.startWarming()
		}
		// A peer that hangs holds a round up for half a lease at most,
		// so the others' leases are renewed in time.
		ctx, cancel := context.WithTimeout(s.life, s.cfg.Lease/2)
		s.exchangeAll(ctx)
		cancel()
	}
}

// holds reports whether this node holds the lease of a key it owns with
// the given owners under v.
func (s *Store) holds(v *view, owners []string) bool {
	now := time.Now()
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if now.Sub(s.round) > s.cfg.Lease {
		return false // paused: the lease loop has not run since
	}
	if s.apart.Load() {
		return false // the other side of a healed partition may hold newer copies
	}
	if len(owners) > 1 {
		return now.Sub(s.leases[owners[1]]) < s.cfg.Lease
	}
	// No backup in this view: a majority of the storing nodes must agree.
	// Of every storing node the vector holds, not only of those alive in
	// this view: a node cut off from the others declares them dead in
	// time, and a node alone in its own view is no majority. Only nodes
	// that drained before they died (they left, their sessions handed
	// over) no longer count.
	agree, all := 1, 1 // this node
	for name, e := range v.vec {
		if name == s.cfg.Name || e.Role != gossip.RoleNode || e.Dead && e.Draining {
			continue
		}
		all++
		if now.Sub(s.leases[name]) < s.cfg.Lease {
			agree++
		}
	}
	return 2*agree > all
}

// awaitLease waits, up to FailoverWait, until this node holds the key's
// lease or no longer owns it.
func (s *Store) awaitLease(ctx context.Context, h [32]byte) error {
	err := s.await(ctx, func() bool {
		owners, v := s.owners(h)
		if len(owners) == 0 || owners[0] != s.cfg.Name || s.holds(v, owners) {
			return true
		}
		select {
		case s.renewal <- struct{}{}:
		default:
		}
		return false
	})
	if errors.Is(err, errTimeout) {
		return unavailable(fmt.Errorf("clusterstore: no lease on the session: its backup has not agreed on the view for %v", s.cfg.FailoverWait))
	}
	return err
}
