package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// commit writes what the request changed. It runs once, before the
// response's header is written. vary is the request's array for a Vary
// header (Manager.vary).
func (s *Session) commit(w http.ResponseWriter, vary *[1]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		s.committed = true
		return nil
	}
	s.m.vary(w.Header(), vary)
	send, err := s.save(s.ctx)
	if err != nil || !send {
		return err
	}
	var expires time.Time
	if s.tok != "" && s.meta.Persistent {
		expires = s.meta.Deadline
	}
	s.m.setToken(w, s.r, string(s.tok), expires)
	return nil
}

// Commit writes a session from Load, as the middleware writes a request's
// session when its response starts: the keys that changed and nothing
// else, and never a session that ended or was renewed meanwhile (that is
// ErrConflict, and nothing is written). It returns the token the client
// holds from now on: Load's token when it did not change, a new one when
// the session was created or renewed, and "" when the session ended or
// holds nothing (the client drops its token). With an error it returns the
// token the client still holds: Load's, or the new one when a Renew
// reached the store before the error; a loop keeps it for its next Load.
//
// A Session is committed once: later writes return ErrCommitted. A loop
// that serves many messages loads and commits once per message.
func (s *Session) Commit(ctx context.Context) (string, error) {
	if s == nil {
		return "", ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r != nil {
		return "", errors.New("sessionkit: Commit is for a session from Manager.Load; the Manager's Handler commits a request's session")
	}
	held := s.raw // the token the client holds until this commit succeeds
	if s.stored {
		held = string(s.tok)
	}
	if s.committed {
		return held, ErrCommitted
	}
	send, err := s.save(ctx)
	switch {
	case err != nil:
		return held, err
	case !send && !s.stored:
		return "", nil
	}
	return string(s.tok), nil
}

// save writes what the session changed, once, and reports whether the
// client must be sent s.tok ("" to drop its token). s.mu is held and the
// session loaded.
func (s *Session) save(ctx context.Context) (send bool, err error) {
	s.committed = true
	if s.err != nil {
		return false, s.err
	}
	if s.lost != nil {
		return false, s.lost
	}
	now := time.Now()
	switch {
	case s.stored:
		changed := s.set.len() > 0 || len(s.deleted) > 0 || s.metaDirty
		if err := s.commitStored(ctx, now, changed); err != nil {
			return false, err
		}
	case s.set.len() > 0 || s.meta.Principal != "":
		if err := s.create(ctx, now); err != nil {
			return false, err
		}
	case s.sent:
		// Nothing to keep: tell the client to drop the token it sent
		// (destroyed, expired or garbage).
		s.tok = ""
		return true, nil
	default:
		return false, nil
	}
	return s.tokDirty, nil
}

func (s *Session) commitStored(ctx context.Context, now time.Time, changed bool) error {
	idle := now.Add(s.meta.IdleTimeout)
	if idle.After(s.meta.Deadline) {
		idle = s.meta.Deadline
	}
	if !changed {
		// Touch only once a share of the idle timeout has passed.
		passed := s.meta.IdleTimeout - s.meta.IdleDeadline.Sub(now)
		if float64(passed) < s.m.cfg.TouchAfter*float64(s.meta.IdleTimeout) {
			return nil
		}
		ctx, start := s.m.startOp(ctx, OpTouch)
		t, err := s.m.store.Touch(ctx, s.tok, idle)
		s.m.observe(ctx, OpTouch, start, 0, !errors.Is(err, ErrNotFound), err)
		switch {
		case errors.Is(err, ErrNotFound):
			// Gone meanwhile: never resend its token.
			s.stored, s.tokDirty = false, false
			return nil
		case err != nil:
			return s.m.storeErr("touch", err)
		}
		s.setToken(t)
		return nil
	}
	d := Delta{Set: slices.Clip(s.set.list), IdleDeadline: idle} // no spare room for a store's append
	for k := range s.deleted {
		d.Deleted = append(d.Deleted, k)
	}
	if s.metaDirty {
		meta := s.meta
		meta.IdleDeadline = idle
		d.Meta = &meta
	}
	// The exact size needs a merge; its upper bound usually settles it.
	if s.set.len() > 0 && valuesSize(s.base)+mapSize(s.updated)+s.set.size() > s.m.cfg.MaxSize {
		if size := s.size(); size > s.m.cfg.MaxSize {
			return fmt.Errorf("sessionkit: commit: %d bytes over the limit of %d: %w", size, s.m.cfg.MaxSize, ErrTooLarge)
		}
	}
	ctx, start := s.m.startOp(ctx, OpCommit)
	t, err := s.m.store.Commit(ctx, s.tok, d)
	if s.m.cfg.Observer != nil {
		s.m.observe(ctx, OpCommit, start, s.set.size(), !errors.Is(err, ErrNotFound), err)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("sessionkit: commit: session ended meanwhile: %w", ErrConflict)
	case err != nil:
		return s.m.storeErr("commit", err)
	}
	s.setToken(t)
	return nil
}

func (s *Session) create(ctx context.Context, now time.Time) error {
	if l := s.m.limiter; l != nil && s.r != nil && !l.allow(s.r) {
		return ErrRateLimited
	}
	// A session not stored yet has only the values this request set.
	values := entryMap(s.set.list)
	if size := mapSize(values); size > s.m.cfg.MaxSize {
		return fmt.Errorf("sessionkit: create: %d bytes over the limit of %d: %w", size, s.m.cfg.MaxSize, ErrTooLarge)
	}
	if s.tok == "" {
		t, err := s.m.mint(ctx)
		if err != nil {
			return err
		}
		s.tok = t
	}
	meta := s.meta
	meta.IdleDeadline = now.Add(meta.IdleTimeout)
	if meta.IdleDeadline.After(meta.Deadline) {
		meta.IdleDeadline = meta.Deadline
	}
	opCtx, start := s.m.startOp(ctx, OpCreate)
	t, err := s.m.store.Create(opCtx, s.tok, Record{Meta: meta, Values: values})
	s.m.observeValues(opCtx, OpCreate, start, values, true, err)
	if err != nil {
		return s.m.storeErr("create", err)
	}
	if s.m.cfg.Observer != nil {
		s.m.changed(ctx, Created, t, "", meta.Principal)
	}
	s.tok, s.tokDirty = t, true
	return nil
}

// size returns the encoded size of the session as this request leaves it.
func (s *Session) size() int {
	n := 0
	s.each(func(k string, b []byte) { n += len(k) + len(b) })
	return n
}

// valuesSize returns the size of values (nil for none): its keys and
// values.
func valuesSize(values Values) int {
	if values == nil {
		return 0
	}
	return values.Size()
}

func mapSize(values map[string][]byte) int { return mapValues(values).Size() }
