package sqlcore

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"time"

	"github.com/sessionkit/sessionkit"
)

// The Store's paths with a near cache. A load that hits costs no round
// trip; every write costs the one statement it costs without the cache,
// which also tells the cache the row's new version.

// loadNear is Load with the near cache.
func (s *Store) loadNear(ctx context.Context, h [32]byte) (sessionkit.Record, bool, error) {
	now := time.Now()
	if e, ok := s.near.get(h, now); ok {
		return e.rec, true, nil
	}
	f, _ := s.near.begin(h, now)
	r, values, version, found, err := s.loadRow(ctx, h, now)
	if err != nil || !found || values == nil {
		s.near.finish(h, f, 0, row{}, nil)
		return sessionkit.Record{}, false, err
	}
	s.near.finish(h, f, version, r, values)
	return sessionkit.Record{Meta: r.meta(), Values: values}, true, nil
}

// loadRow reads a session's row and version. A row that cannot be decoded
// reads as not found, and is logged.
func (s *Store) loadRow(ctx context.Context, h [32]byte, now time.Time) (r row, values map[string][]byte, version int64, found bool, err error) {
	var data []byte
	found, err = s.db.QueryRow(ctx, s.q.load, []any{h[:], now.UnixMilli()}, append(r.dest(), &data, &version)...)
	if err != nil {
		return r, nil, 0, false, s.fail(ctx, "load", err)
	}
	if !found {
		return r, nil, 0, false, nil
	}
	if values, err = decodeValues(data); err != nil {
		s.cfg.Logger.Warn(s.db.Name()+": undecodable session row", "id", hex.EncodeToString(h[:8]), "err", err)
		return r, nil, 0, false, nil
	}
	return r, values, version, true, nil
}

// commitNear is Commit with the near cache: the UPDATE returns the row's
// new version, and when it is the next after the cached one, the cache
// takes the cached record with the delta applied, as the database did.
func (s *Store) commitNear(ctx context.Context, t sessionkit.Token, h [32]byte, d sessionkit.Delta) (sessionkit.Token, error) {
	args, m, _, err := s.commitArgs(h[:], d.Set, d.Deleted, d.IdleDeadline, d.Meta, nil)
	if err != nil {
		return "", err
	}
	f, e := s.near.begin(h, time.Now())
	var version int64
	found, err := s.db.WriteRow(ctx, s.q.commitVersion[m], args, &version)
	if err != nil || !found || e == nil || version != e.version+1 {
		return s.uncached(ctx, "commit", t, h, f, found, err)
	}
	r := e.row
	if d.Meta != nil {
		r = row{principal: d.Meta.Principal, created: ms(d.Meta.Created), deadline: ms(d.Meta.Deadline),
			idleTimeout: int64(d.Meta.IdleTimeout), persistent: d.Meta.Persistent, generation: int64(d.Meta.Generation)}
	}
	r.idleDeadline = ms(d.IdleDeadline)
	s.near.finish(h, f, version, r, merge(e.values, d.Set, d.Deleted))
	return t, nil
}

// uncached ends fill f of a write the cache cannot follow (it failed,
// found no row, or the row's version is not the one after the cached
// entry's), dropping whatever is cached under h, which is older than the
// row now, and returns what the write returns.
func (s *Store) uncached(ctx context.Context, op string, t sessionkit.Token, h [32]byte, f *fill, found bool, err error) (sessionkit.Token, error) {
	s.near.finish(h, f, 0, row{}, nil)
	s.near.Deleted(h)
	switch {
	case err != nil:
		return "", s.fail(ctx, op, err)
	case !found:
		return "", sessionkit.ErrNotFound
	}
	return t, nil
}

// merge returns values with set applied and then deleted, as the
// database's merge does; values is not modified, and the slices of set
// are copied, so that the caller may reuse them.
func merge(values map[string][]byte, set []sessionkit.Entry, deleted []string) map[string][]byte {
	out := make(map[string][]byte, len(values)+len(set))
	maps.Copy(out, values)
	for _, e := range set {
		out[e.Key] = bytes.Clone(e.Value)
	}
	for _, k := range deleted {
		delete(out, k)
	}
	return out
}

// touchNear is Touch with the near cache, which takes the new idle
// deadline when the row's version is the cached one.
func (s *Store) touchNear(ctx context.Context, t sessionkit.Token, h [32]byte, idle time.Time) (sessionkit.Token, error) {
	f, e := s.near.begin(h, time.Now())
	var version int64
	found, err := s.db.WriteRow(ctx, s.q.touchVersion, []any{h[:], time.Now().UnixMilli(), ms(idle)}, &version)
	if err != nil || !found || e == nil || version != e.version {
		return s.uncached(ctx, "touch", t, h, f, found, err)
	}
	r := e.row
	r.idleDeadline = ms(idle)
	s.near.finish(h, f, version, r, e.values)
	return t, nil
}

// updateNear is Update with the near cache. fn runs on the cached value
// (or on the row, read once when nothing is cached) and the write is a
// compare-and-set on the version that returns the current row whether it
// applied or not: a write against a stale cache is refused, and the retry
// runs fn on the row the refusal returned, without another read. That
// refusal is not an attempt lost to a concurrent write: it does not count
// against UpdateAttempts.
func (s *Store) updateNear(ctx context.Context, t sessionkit.Token, h [32]byte, key string, idle time.Time, fn sessionkit.UpdateFunc) (sessionkit.Token, error) {
	now := time.Now()
	f, e := s.near.begin(h, now)
	var (
		version int64
		r       row
		values  map[string][]byte
	)
	// fromCache: fn is about to run on the cached value, whose refusal
	// is a stale cache rather than contention.
	fromCache := e != nil
	if fromCache {
		version, r, values = e.version, e.row, e.values
	} else {
		var found bool
		var err error
		r, values, version, found, err = s.loadRow(ctx, h, now)
		if err != nil || !found {
			s.near.finish(h, f, 0, row{}, nil)
			if err != nil {
				return "", err
			}
			return "", sessionkit.ErrNotFound
		}
	}
	for lost := 0; ; {
		old, ok := values[key]
		b, err := fn(old, ok)
		if err != nil {
			s.near.finish(h, f, 0, row{}, nil)
			return "", err
		}
		set, deleted := keyChange(key, b)
		args, _, _, err := s.commitArgs(h[:], set, deleted, idle, nil, &version)
		if err != nil {
			s.near.finish(h, f, 0, row{}, nil)
			return "", err
		}
		var applied bool
		var next int64
		var data []byte
		r = row{}
		found, err := s.db.WriteRow(ctx, s.q.updateReturning, args, append(append([]any{&applied}, r.dest()...), &next, &data)...)
		if err != nil || !found {
			s.near.finish(h, f, 0, row{}, nil)
			s.near.Deleted(h)
			if err != nil {
				return "", s.fail(ctx, "update", err)
			}
			return "", sessionkit.ErrNotFound
		}
		if values, err = decodeValues(data); err != nil {
			s.near.finish(h, f, 0, row{}, nil)
			s.near.Deleted(h)
			return "", fmt.Errorf("%s: update: stored session: %w", s.db.Name(), err)
		}
		if applied {
			s.near.finish(h, f, next, r, values)
			return t, nil
		}
		// A refusal whose row is newer than the version fn ran on: when
		// that version came from the cache, the cache was stale, and
		// the retry on the row returned costs nothing more.
		if fromCache && next > version {
			fromCache = false
			s.near.finish(h, f, next, r, values)
			version = next
			f, _ = s.near.begin(h, time.Now())
			continue
		}
		fromCache = false
		// Otherwise a concurrent write won.
		lost++
		// The version unmoved: the statement waited for a concurrent
		// writer's row lock and returned the row as it was before the
		// wait. It is not cached, and a retry on it would be refused
		// again: the row is read again instead.
		stale := next == version
		if stale {
			s.near.finish(h, f, 0, row{}, nil)
		} else {
			s.near.finish(h, f, next, r, values)
		}
		if lost >= s.cfg.UpdateAttempts {
			return "", fmt.Errorf("%s: update of %q: %d attempts lost to concurrent writes: %w", s.db.Name(), key, lost, sessionkit.ErrConflict)
		}
		if err := updateBackoff.Wait(ctx, lost); err != nil {
			return "", fmt.Errorf("%s: update: %w", s.db.Name(), err)
		}
		now = time.Now()
		f, _ = s.near.begin(h, now)
		version = next
		if stale {
			r, values, version, found, err = s.loadRow(ctx, h, now)
			if err != nil || !found {
				s.near.finish(h, f, 0, row{}, nil)
				if err != nil {
					return "", err
				}
				return "", sessionkit.ErrNotFound
			}
		}
	}
}

// revokeNear is RevokeAll with the near cache, which drops each deleted
// session once the statement has returned (and so committed).
func (s *Store) revokeNear(ctx context.Context, principal string) (int, error) {
	var ids [][32]byte
	n := 0
	err := s.db.WriteRows(ctx, s.q.revokeReturning, []any{principal}, func(scan func(...any) error) error {
		var id []byte
		if err := scan(&id); err != nil {
			return err
		}
		n++
		if len(id) == 32 {
			ids = append(ids, [32]byte(id))
		}
		return nil
	})
	// Dropped even on a failure: the statement may have committed.
	for _, id := range ids {
		s.near.Deleted(id)
	}
	if err != nil {
		return 0, s.fail(ctx, "revoke", err)
	}
	return n, nil
}
