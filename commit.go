package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"
)

// commit writes what the request changed. It runs once, before the
// response's header is written.
func (s *Session) commit(w http.ResponseWriter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = true
	if !s.loaded {
		return nil
	}
	s.m.vary(w.Header())
	if s.err != nil {
		return s.err
	}
	if s.lost != nil {
		return s.lost
	}
	ctx := s.ctx
	now := time.Now()
	changed := len(s.set) > 0 || len(s.deleted) > 0 || s.metaDirty
	if s.stored {
		if err := s.commitStored(ctx, now, changed); err != nil {
			return err
		}
	} else if len(s.set) > 0 || s.meta.Principal != "" {
		if err := s.create(ctx, now); err != nil {
			return err
		}
	} else if s.sent {
		// Nothing to keep: tell the client to drop the token it sent
		// (destroyed, expired or garbage).
		s.m.setToken(w, s.r, "", time.Time{})
		return nil
	} else {
		return nil
	}
	if s.tokDirty {
		var expires time.Time
		if s.meta.Persistent {
			expires = s.meta.Deadline
		}
		s.m.setToken(w, s.r, string(s.tok), expires)
	}
	return nil
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
			s.tokDirty = false // gone meanwhile; never resend its token
			return nil
		case err != nil:
			return s.m.storeErr("touch", err)
		}
		s.setToken(t)
		return nil
	}
	d := Delta{Set: s.set, IdleDeadline: idle}
	for k := range s.deleted {
		d.Deleted = append(d.Deleted, k)
	}
	if s.metaDirty {
		meta := s.meta
		meta.IdleDeadline = idle
		d.Meta = &meta
	}
	// The exact size needs a merge; its upper bound usually settles it.
	if len(s.set) > 0 && valuesSize(s.base)+valuesSize(s.updated)+valuesSize(s.set) > s.m.cfg.MaxSize {
		if size := s.size(); size > s.m.cfg.MaxSize {
			return fmt.Errorf("sessionkit: commit: %d bytes over the limit of %d: %w", size, s.m.cfg.MaxSize, ErrTooLarge)
		}
	}
	ctx, start := s.m.startOp(ctx, OpCommit)
	t, err := s.m.store.Commit(ctx, s.tok, d)
	s.m.observe(ctx, OpCommit, start, valuesSize(s.set), !errors.Is(err, ErrNotFound), err)
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
	if l := s.m.limiter; l != nil && !l.allow(s.r) {
		return ErrRateLimited
	}
	// A session not stored yet has only the values this request set.
	values := maps.Clone(s.set)
	if size := valuesSize(values); size > s.m.cfg.MaxSize {
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
	s.m.observe(opCtx, OpCreate, start, valuesSize(values), true, err)
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

func valuesSize(values map[string][]byte) int {
	n := 0
	for k, v := range values {
		n += len(k) + len(v)
	}
	return n
}
