// Package memstore keeps sessions in the memory of one process: the default
// store for a single server, and for tests. Its sessions live and die with
// the process and are seen by it alone; several servers need a shared store
// (redisstore, pgstore, sqlitestore), the sealed cookie (cookiestore) or the
// replicated cluster store (clusterstore).
//
// Records are filed under the SHA-256 of their token in sharded maps, so
// that lookups on different sessions rarely contend. A background sweeper
// removes expired sessions; Close stops it. The store holds at most
// Config.MaxSessions sessions, the whole store counted: a new session
// that would pass the bound evicts an anonymous session (no principal)
// while the store holds any, so a flood of anonymous clients cannot push
// out logged-in users.
//
// # Expiry events
//
// The store implements sessionkit.ExpiryNotifier: a Manager with an
// Observer sees an Expired event for each session that expires, at most
// once, when the sweeper removes it (up to Config.CleanupInterval after
// its deadline) or, for a session found expired by a request first, at
// the sweep after that. Sessions that MaxSessions evicts, and sessions
// that expire after Close, are not reported.
//
// # Wrapping the store
//
// The store implements sessionkit.LazyLoader, so the Manager reads a
// session's values where the store keeps them. A type that embeds a store
// and overrides Load must override LoadLazy and LazyStore too, or hide
// them; one that overrides Load alone is read through its Load, since the
// LazyStore it inherits names the embedded store (see sessionkit.Lazy).
package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/expiry"
	"github.com/sessionkit/sessionkit/internal/sesstable"
	"github.com/sessionkit/sessionkit/internal/tick"
	"github.com/sessionkit/sessionkit/internal/token"
)

// Config configures a Store. Its zero value is the default.
type Config struct {
	// MaxSessions bounds the number of sessions held, the whole store
	// counted. A new session that would pass it evicts one: an anonymous
	// session while the store holds any (the one closest to its end
	// among a few sampled), a logged-in one only when every session held
	// is logged in. A store under the bound evicts nothing. Default
	// 1,000,000; negative means no bound.
	MaxSessions int
	// CleanupInterval is how often expired sessions are removed. Expired
	// sessions are never returned meanwhile. Default 1 minute.
	CleanupInterval time.Duration
}

// Store is an in-memory sessionkit.Store. It also implements
// sessionkit.Principals and sessionkit.Generations. Its methods are safe for
// concurrent use.
type Store struct {
	table   *sesstable.Table[sesstable.Compact, struct{}]
	expired expiry.Notifier
	life    context.Context // the context of expiry events: ended by Close
	end     context.CancelFunc

	genMu   sync.Mutex
	gens    map[string]uint64
	genEnds map[string]time.Time // when each counter of BumpUntil may be forgotten

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var (
	_ sessionkit.Store               = (*Store)(nil)
	_ sessionkit.LazyLoader          = (*Store)(nil)
	_ sessionkit.Principals          = (*Store)(nil)
	_ sessionkit.Generations         = (*Store)(nil)
	_ sessionkit.ExpiringGenerations = (*Store)(nil)
	_ sessionkit.ExpiryNotifier      = (*Store)(nil)
)

// New returns a Store configured by cfg (the zero Config is the default),
// its sweeper running. Close stops the sweeper.
func New(cfg Config) *Store {
	if cfg.CleanupInterval <= 0 {
		cfg.CleanupInterval = time.Minute
	}
	s := &Store{
		gens: map[string]uint64{}, genEnds: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	s.table = sesstable.New(cfg.MaxSessions, func(_ *sesstable.Shard[sesstable.Compact, struct{}], h [32]byte, e sesstable.Compact, _ time.Time) {
		s.expired.Queue(sessionkit.Expiry{ID: token.ID(h), Principal: e.Principal()})
	})
	s.life, s.end = context.WithCancel(context.Background())
	go s.sweep(cfg.CleanupInterval)
	return s
}

// Close stops the background sweeper and waits for it. It may be called
// more than once. The store still serves requests after Close, but no
// longer removes expired sessions in the background.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	s.expired.Close()
	s.end()
	return nil
}

// NotifyExpired implements sessionkit.ExpiryNotifier: the sweeper calls
// fn with the sessions each sweep removed, and those found expired on
// access since the previous sweep.
func (s *Store) NotifyExpired(fn func(ctx context.Context, expired []sessionkit.Expiry)) {
	s.expired.Add(fn)
}

func (s *Store) sweep(every time.Duration) {
	defer close(s.done)
	tick.Every(s.stop, every, s.removeExpired)
}

func (s *Store) removeExpired(now time.Time) {
	s.genMu.Lock()
	for name := range s.genEnds {
		s.forgetGeneration(name, now)
	}
	s.genMu.Unlock()
	for sh := range s.table.Shards() {
		sh.RemoveExpired(now)
	}
	s.expired.Flush(s.life)
}

// Load implements sessionkit.Store. The returned Values map is new, but
// its keys and values share the store's memory and must not be modified.
func (s *Store) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	h := t.Hash()
	sh := s.table.Lock(h)
	e, ok := sh.Live(h, time.Now())
	sh.Unlock()
	if !ok {
		return sessionkit.Record{}, false, nil
	}
	// The entry is immutable: it decodes without the lock.
	return sessionkit.Record{Meta: e.Meta(), Values: e.Values()}, true, nil
}

// LoadLazy implements sessionkit.LazyLoader: values reads the store's
// own record of the session, which no write changes.
func (s *Store) LoadLazy(ctx context.Context, t sessionkit.Token) (sessionkit.Meta, sessionkit.Values, bool, error) {
	h := t.Hash()
	sh := s.table.Lock(h)
	e, ok := sh.Live(h, time.Now())
	sh.Unlock()
	if !ok {
		return sessionkit.Meta{}, nil, false, nil
	}
	return e.Meta(), e.View(), true, nil
}

// LazyStore implements sessionkit.LazyLoader: it returns s. A type that
// embeds *Store and overrides Load must override LoadLazy and LazyStore
// too, or the Manager reads it through its Load, never the embedded
// LoadLazy.
func (s *Store) LazyStore() sessionkit.Store { return s }

// Create implements sessionkit.Store.
func (s *Store) Create(ctx context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := t.Hash()
	e := sesstable.NewCompact(&rec.Meta, rec.Values)
	sh := s.table.Lock(h)
	sh.Put(h, e)
	sh.Unlock()
	return t, nil
}

// write replaces the live entry under t's hash with change's result.
func (s *Store) write(ctx context.Context, t sessionkit.Token, change func(sesstable.Compact) (sesstable.Compact, error)) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := t.Hash()
	sh := s.table.Lock(h)
	defer sh.Unlock()
	old, ok := sh.Live(h, time.Now())
	if !ok {
		return "", sessionkit.ErrNotFound
	}
	e, err := change(old)
	if err != nil {
		return "", err
	}
	sh.Put(h, e)
	return t, nil
}

// Commit implements sessionkit.Store.
func (s *Store) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	return s.write(ctx, t, func(old sesstable.Compact) (sesstable.Compact, error) {
		if d.Meta == nil && len(d.Set) == 0 && len(d.Deleted) == 0 {
			return old.Touched(d.IdleDeadline), nil
		}
		return old.Apply(&d), nil
	})
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, t sessionkit.Token, idleDeadline time.Time) (sessionkit.Token, error) {
	return s.write(ctx, t, func(old sesstable.Compact) (sesstable.Compact, error) {
		return old.Touched(idleDeadline), nil
	})
}

// Update implements sessionkit.Store. fn runs under the lock of the
// session's shard, so concurrent updates never conflict.
func (s *Store) Update(ctx context.Context, t sessionkit.Token, key string, idleDeadline time.Time, fn sessionkit.UpdateFunc) (sessionkit.Token, error) {
	return s.write(ctx, t, func(old sesstable.Compact) (sesstable.Compact, error) {
		cur, ok := old.Value(key)
		b, err := fn(cur, ok)
		if err != nil {
			return sesstable.Compact{}, err
		}
		return old.With(key, b, idleDeadline), nil
	})
}

// Renew implements sessionkit.Store.
func (s *Store) Renew(ctx context.Context, old, next sessionkit.Token) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := old.Hash()
	sh := s.table.Lock(h)
	e, ok := sh.Live(h, time.Now())
	if ok {
		sh.Delete(h)
	}
	sh.Unlock()
	if !ok {
		return "", sessionkit.ErrNotFound
	}
	// Nobody knows next yet, so the session may be in neither shard for
	// a moment.
	nh := next.Hash()
	nsh := s.table.Lock(nh)
	nsh.Put(nh, e)
	nsh.Unlock()
	return next, nil
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, t sessionkit.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := t.Hash()
	sh := s.table.Lock(h)
	sh.Delete(h)
	sh.Unlock()
	return nil
}

// Sessions implements sessionkit.Principals.
func (s *Store) Sessions(ctx context.Context, principal string) ([]sessionkit.Info, error) {
	now := time.Now()
	var infos []sessionkit.Info
	for sh := range s.table.Shards() {
		for h := range sh.Principal(principal) {
			if e, ok := sh.Live(h, now); ok {
				infos = append(infos, sessionkit.Info{ID: token.ID(h), Meta: e.Meta()})
			}
		}
	}
	return infos, ctx.Err()
}

// RevokeAll implements sessionkit.Principals.
func (s *Store) RevokeAll(ctx context.Context, principal string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	for sh := range s.table.Shards() {
		for h := range sh.Principal(principal) {
			sh.Delete(h)
			n++
		}
	}
	return n, nil
}

// Generation implements sessionkit.Generations.
func (s *Store) Generation(ctx context.Context, principal string) (uint64, error) {
	s.genMu.Lock()
	defer s.genMu.Unlock()
	s.forgetGeneration(principal, time.Now())
	return s.gens[principal], nil
}

// Generations implements sessionkit.MultiGenerations.
func (s *Store) Generations(ctx context.Context, names ...string) ([]uint64, error) {
	s.genMu.Lock()
	defer s.genMu.Unlock()
	now := time.Now()
	gens := make([]uint64, len(names))
	for i, n := range names {
		s.forgetGeneration(n, now)
		gens[i] = s.gens[n]
	}
	return gens, nil
}

// Bump implements sessionkit.Generations. A counter Bump has bumped is
// kept for good.
func (s *Store) Bump(ctx context.Context, principal string) (uint64, error) {
	s.genMu.Lock()
	defer s.genMu.Unlock()
	s.forgetGeneration(principal, time.Now())
	delete(s.genEnds, principal)
	s.gens[principal]++
	return s.gens[principal], nil
}

// BumpUntil implements sessionkit.ExpiringGenerations: the sweeper
// forgets the counter after deadline.
func (s *Store) BumpUntil(ctx context.Context, name string, deadline time.Time) (uint64, error) {
	s.genMu.Lock()
	defer s.genMu.Unlock()
	s.forgetGeneration(name, time.Now())
	end, expiring := s.genEnds[name]
	if s.gens[name] == 0 || expiring && end.Before(deadline) {
		s.genEnds[name] = deadline
	}
	s.gens[name]++
	return s.gens[name], nil
}

// forgetGeneration drops the counter name when its deadline has passed.
// s.genMu is held.
func (s *Store) forgetGeneration(name string, now time.Time) {
	if end, ok := s.genEnds[name]; ok && !now.Before(end) {
		delete(s.genEnds, name)
		delete(s.gens, name)
	}
}

// Stats describes what a Store holds.
type Stats struct {
	// Sessions is the number of sessions held, expired ones not yet
	// swept included.
	Sessions int
	// Bytes is the size of their keys, values and principals.
	Bytes int
	// Evicted is how many sessions MaxSessions has evicted since New.
	Evicted uint64
}

// Stats returns what the store holds now.
func (s *Store) Stats() Stats {
	return Stats{Sessions: s.table.Len(), Bytes: s.table.Bytes(), Evicted: s.table.Evicted()}
}
