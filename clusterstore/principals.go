package clusterstore

import (
	"context"
	"encoding/hex"
	"sync"

	"github.com/sessionkit/sessionkit"
)

// Principals: every node lists and revokes the sessions of a principal
// that it owns.

// Sessions implements sessionkit.Principals: every node lists the
// principal's sessions it owns.
func (s *Store) Sessions(ctx context.Context, principal string) ([]sessionkit.Info, error) {
	var mu sync.Mutex
	var out []sessionkit.Info
	err := s.eachNode(ctx, func(m Member) error {
		var infos []sessionkit.Info
		if m.Name == s.cfg.Name {
			infos = s.ownedOf(principal)
		} else {
			b, err := s.call(ctx, m.Data, "/rpc/sessions", encoder{}.string(principal))
			if err != nil {
				return classify(err)
			}
			d := newDecoder(b)
			if infos = d.infos(); d.Err() != nil {
				return d.Err()
			}
		}
		mu.Lock()
		out = append(out, infos...)
		mu.Unlock()
		return nil
	})
	return out, err
}

// RevokeAll implements sessionkit.Principals: every node deletes the
// principal's sessions it holds, and counts those it owns.
func (s *Store) RevokeAll(ctx context.Context, principal string) (int, error) {
	total := 0
	var mu sync.Mutex
	err := s.eachNode(ctx, func(m Member) error {
		n := 0
		if m.Name == s.cfg.Name {
			n = s.revokeOwned(ctx, principal)
		} else {
			b, err := s.call(ctx, m.Data, "/rpc/revoke", encoder{}.string(principal))
			if err != nil {
				return classify(err)
			}
			d := newDecoder(b)
			n = int(d.uvarint())
		}
		mu.Lock()
		total += n
		mu.Unlock()
		return nil
	})
	return total, err
}

func (s *Store) eachNode(ctx context.Context, fn func(Member) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := s.view.Load()
	var wg sync.WaitGroup
	errs := make(chan error, len(v.nodes))
	for _, m := range v.nodes {
		wg.Go(func() {
			if err := fn(m); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// ownedOf lists the principal's sessions this node owns.
func (s *Store) ownedOf(principal string) []sessionkit.Info {
	var out []sessionkit.Info
	for _, h := range s.table.ofPrincipal(principal) {
		if owners, _ := s.owners(h); len(owners) > 0 && owners[0] == s.cfg.Name {
			if r, ok := s.table.load(h); ok {
				out = append(out, sessionkit.Info{ID: hex.EncodeToString(h[:]), Meta: r.Meta()})
			}
		}
	}
	return out
}

// revokeOwned deletes the principal's sessions this node holds and
// returns how many it owned. It replicates the deletion of those it owns;
// a copy it holds for another owner it deletes on its own, since that
// owner may have evicted its record (Config.MaxSessions), and the copy
// would then outlive the revocation.
func (s *Store) revokeOwned(ctx context.Context, principal string) int {
	n := 0
	for _, h := range s.table.ofPrincipal(principal) {
		owners, _ := s.owners(h)
		_, m, err := s.table.take(h)
		if err != nil || len(owners) == 0 || owners[0] != s.cfg.Name {
			continue
		}
		s.replicate(ctx, m, owners[1:])
		n++
	}
	return n
}
