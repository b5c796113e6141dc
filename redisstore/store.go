package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/expiry"
	"github.com/sessionkit/sessionkit/internal/retry"
)

// Store is a sessionkit.Store keeping sessions in Redis. It also implements
// sessionkit.Principals and sessionkit.Generations. Its methods are safe
// for concurrent use.
type Store struct {
	cfg    Config
	client rueidis.Client
	prefix string
	cache  *bypass // the near cache on Redis Cluster (rueidis's), or nil
	near   *near   // the near cache elsewhere (the store's own), or nil

	hits, misses atomic.Uint64

	db      int // the database the client selects, for expiry notifications
	expired expiry.Notifier
	sub     subscriber

	closed    atomic.Bool
	closeOnce sync.Once
	borrowed  bool // the client is the application's: Close leaves it open
}

// Stats counts the near cache's use.
type Stats struct {
	// CacheHits is the number of loads served by the near cache.
	CacheHits uint64
	// CacheMisses is the number of loads that went to Redis while the
	// near cache was on.
	CacheMisses uint64
}

// Stats returns the near cache's counters; both are 0 without a near
// cache.
func (s *Store) Stats() Stats {
	return Stats{CacheHits: s.hits.Load(), CacheMisses: s.misses.Load()}
}

var (
	_ sessionkit.Store               = (*Store)(nil)
	_ sessionkit.Principals          = (*Store)(nil)
	_ sessionkit.Generations         = (*Store)(nil)
	_ sessionkit.ExpiringGenerations = (*Store)(nil)
)

// New connects to the Redis deployment cfg names and returns a Store. It
// fails when the configuration is invalid or no node answers within
// cfg.DialTimeout (ctx is checked before connecting; rueidis dials without
// one). Close releases the connections.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	opt, err := cfg.clientOptions()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect: %w: %w", sessionkit.ErrUnavailable, err)
	}
	if cfg.NearCache != nil && opt.DisableCache && client.Mode() == rueidis.ClientModeCluster {
		// Redis Cluster's near cache is rueidis's client-side cache.
		client.Close()
		opt.DisableCache = false
		if client, err = rueidis.NewClient(opt); err != nil {
			return nil, fmt.Errorf("redisstore: connect: %w: %w", sessionkit.ErrUnavailable, err)
		}
	}
	s := NewFromClient(client, cfg)
	s.borrowed = false
	return s, nil
}

// Open returns a Store for the Redis deployment url names (see Config.URL),
// with the other settings at their defaults.
func Open(ctx context.Context, url string) (*Store, error) {
	return New(ctx, Config{URL: url})
}

// NewFromClient returns a Store on a rueidis client the application
// already has, for its own commands too. The client keeps the options it
// was built with: cfg's URL and connection settings are not used. The near
// cache (cfg.NearCache) takes two of the client's dedicated connections
// for good, one for client tracking and one for its invalidations, and at
// Close gives back the first, tracking off, and closes the second. On
// Redis Cluster it works only if the client was built with client-side
// caching, which rueidis enables unless ClientOption.DisableCache is set
// (with it set, loads go to Redis every time); elsewhere DisableCache does
// not matter to it. Expiry notifications are per database: cfg.URL (or
// cfg.Options) names the client's database when it is not 0. Close leaves
// the client open.
func NewFromClient(client rueidis.Client, cfg Config) *Store {
	cfg.setDefaults()
	s := &Store{cfg: cfg, client: client, prefix: cfg.Prefix, borrowed: true}
	if opt, err := cfg.clientOptions(); err == nil {
		s.db = opt.SelectDB
	}
	if nc := cfg.NearCache; nc != nil {
		if client.Mode() == rueidis.ClientModeCluster {
			s.cache = newBypass(nc.WriteBypass)
		} else {
			s.near = newNear(client, nc, cfg.Logger)
		}
	}
	return s
}

// Close stops the expiry subscriptions and closes the connections to
// Redis, unless the client came from the application (NewFromClient). It may be called more than once; every
// method called afterwards returns ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stopExpiry()
		if s.near != nil {
			s.near.close()
		}
		if s.borrowed {
			return
		}
		s.client.Close()
	})
	return nil
}

// Client returns the store's rueidis client, for the application's own
// use of the same connections. Closing the store closes it.
func (s *Store) Client() rueidis.Client { return s.client }

func (s *Store) sessionKey(t sessionkit.Token) (key, id string) {
	h := t.Hash()
	id = hex.EncodeToString(h[:])
	return s.prefix + "s:" + id, id
}

func (s *Store) keyOfID(id string) string              { return s.prefix + "s:" + id }
func (s *Store) indexKey(principal string) string      { return s.prefix + "p:" + principal }
func (s *Store) generationKey(principal string) string { return s.prefix + "g:" + principal }

// begin checks that the store is open and the context live, and bounds the
// context by OpTimeout (plus WaitTimeout when writes wait for replicas).
func (s *Store) begin(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, fmt.Errorf("redisstore: %s: %w", op, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	limit := s.cfg.OpTimeout
	if s.cfg.WaitReplicas > 0 {
		limit += s.cfg.WaitTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= limit {
		return ctx, func() {}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	return ctx, cancel, nil
}

// fail wraps an error of a call to Redis: a canceled context stays
// itself, every other failure is also sessionkit.ErrUnavailable.
func fail(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrNotReplicated) || errors.Is(err, ErrClosed) {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if errors.Is(err, rueidis.ErrClosing) {
		return fmt.Errorf("redisstore: %s: %w", op, ErrClosed)
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, sessionkit.ErrUnavailable, err)
}

// Load implements sessionkit.Store in one round trip (HGETALL and
// PEXPIRETIME pipelined), or none on a near-cache hit. A record served by
// the near cache shares its Values map and byte slices with the cache's
// entry, as sessionkit.Store allows: the caller must not modify them.
func (s *Store) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	key, _ := s.sessionKey(t)
	// A hit in the near cache reaches no server, so it needs no deadline:
	// its timer and context would cost more than the hit.
	if s.near != nil && !s.closed.Load() && ctx.Err() == nil {
		if rec, ok := s.near.hit(key); ok {
			s.hits.Add(1)
			return rec, true, nil
		}
	}
	ctx, cancel, err := s.begin(ctx, "load")
	if err != nil {
		return sessionkit.Record{}, false, err
	}
	defer cancel()
	rec, found, err := s.load(ctx, key)
	if err != nil {
		return sessionkit.Record{}, false, fail("load", err)
	}
	return rec, found, nil
}

func (s *Store) load(ctx context.Context, key string) (sessionkit.Record, bool, error) {
	var res []rueidis.RedisResult
	b := s.client.B()
	var sn snap
	var tracked rueidis.DedicatedClient
	if s.near != nil {
		tracked, sn = s.near.conn(ctx, key, false)
		if rec, _, ok := s.near.get(key); ok {
			s.hits.Add(1)
			return rec, true, nil
		}
		s.misses.Add(1)
	}
	if tracked != nil {
		// The read makes Redis track the key on the tracking
		// connection: the entry it fills will be invalidated.
		if err := s.near.enter(ctx); err != nil {
			return sessionkit.Record{}, false, err
		}
		res = tracked.DoMulti(ctx, b.Hgetall().Key(key).Build(), b.Pexpiretime().Key(key).Build())
		s.near.leave()
		err := firstErr(res)
		if cerr := canceled(ctx); cerr != nil {
			// The call may have run to its reply or its deadline on
			// the caller's goroutine (see near): report the
			// cancellation, as a call through the pool does.
			if err != nil {
				s.near.failed(tracked, err, true)
			}
			return sessionkit.Record{}, false, cerr
		}
		if err != nil && s.near.failed(tracked, err, true) {
			// A lost tracking connection: read through the pool,
			// which reconnects, and fill nothing.
			sn = snap{}
			res = s.client.DoMulti(ctx, b.Hgetall().Key(key).Build(), b.Pexpiretime().Key(key).Build())
		}
	} else if s.cache != nil && !s.cache.active(key) {
		ttl := s.cfg.NearCache.TTL
		res = s.client.DoMultiCache(ctx,
			rueidis.CT(b.Hgetall().Key(key).Cache(), ttl),
			rueidis.CT(b.Pexpiretime().Key(key).Cache(), ttl))
		if res[0].IsCacheHit() && res[1].IsCacheHit() {
			s.hits.Add(1)
		} else {
			s.misses.Add(1)
		}
	} else {
		if s.cache != nil {
			s.misses.Add(1)
		}
		res = s.client.DoMulti(ctx, b.Hgetall().Key(key).Build(), b.Pexpiretime().Key(key).Build())
	}
	fields, err := res[0].AsStrMap()
	if err != nil {
		return sessionkit.Record{}, false, err
	}
	expiry, err := res[1].AsInt64()
	if err != nil {
		return sessionkit.Record{}, false, err
	}
	if len(fields) == 0 {
		return sessionkit.Record{}, false, nil
	}
	rec, ok := decode(fields, expiry)
	if !ok || rec.Expired(time.Now()) {
		return sessionkit.Record{}, false, nil
	}
	if s.near != nil {
		s.near.fill(key, rec, version(fields), sn)
	}
	return rec, true, nil
}

// writeKey sends the commands of one session key (main) and of other keys
// (side) in one round trip, as write does. With the store's near cache it
// sends them through the tracking connection, whose writes Redis does not
// echo back as invalidations, and returns the snapshot a fill from the
// reply checks (from cached); a write there that fails with the
// connection (a broken connection, a demoted primary) drops it, and one
// that found it dropped under it goes through the pool. Writes that
// bypass it, and failed ones, forget the key.
func (s *Store) writeKey(ctx context.Context, key string, main, side []op) ([]rueidis.RedisResult, error) {
	if s.near == nil {
		res, err := s.write(ctx, main, side)
		s.wrote(key)
		return res, err
	}
	dc, _ := s.near.conn(ctx, key, true)
	if dc == nil || s.cfg.WaitReplicas > 0 {
		res, err := s.write(ctx, main, side)
		s.near.forget(key)
		return res, err
	}
	if err := s.near.enter(ctx); err != nil {
		s.near.forget(key)
		return nil, err
	}
	res := pipeline(ctx, dc, append(main[:len(main):len(main)], side...), -1)
	s.near.leave()
	if err := firstErr(res); err != nil {
		s.near.forget(key)
		again := s.near.failed(dc, err, false)
		if cerr := canceled(ctx); cerr != nil {
			return nil, cerr
		}
		if again && unsent(res) {
			return s.write(ctx, main, side)
		}
	}
	return res, nil
}

// canceled returns ctx's error when the caller canceled it. A call on the
// tracking connection's synchronous path (see near) does not watch the
// cancellation, and fails at the deadline instead, or completes: a
// failure is then reported as the cancellation, as a call through the
// pool reports it, and not as the store being unavailable.
func canceled(ctx context.Context) error {
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// cached returns the near cache's entry for key, and the snapshot that a
// fill after a write of key checks, taken before the entry was read so
// that an invalidation arriving meanwhile refuses the fill.
func (s *Store) cached(ctx context.Context, key string) (rec sessionkit.Record, ver uint64, ok bool, sn snap) {
	if s.near == nil {
		return sessionkit.Record{}, 0, false, snap{}
	}
	_, sn = s.near.conn(ctx, key, false)
	rec, ver, ok = s.near.get(key)
	return rec, ver, ok, sn
}

// filled caches rec, the session key holds after a write of this store
// that took it to version ver, if the entry the write started from (at
// version base) is still the latest; otherwise it forgets the key, as
// another write came between.
func (s *Store) filled(key string, rec sessionkit.Record, ok bool, base, ver uint64, sn snap) {
	if s.near == nil {
		return
	}
	if ok && ver == base+1 {
		s.near.fill(key, rec, ver, sn)
		return
	}
	s.near.forget(key)
}

// Create implements sessionkit.Store in one round trip: a script that
// writes the hash and its expiry, pipelined with the principal index's
// update when the session has a principal.
func (s *Store) Create(ctx context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	ctx, cancel, err := s.begin(ctx, "create")
	if err != nil {
		return "", err
	}
	defer cancel()
	key, id := s.sessionKey(t)
	args := make([]string, 0, 1+2*(metaPairs+len(rec.Values)))
	args = append(args, ms(rec.IdleDeadline))
	args = metaArgs(args, &rec.Meta)
	for k, v := range rec.Values {
		args = append(args, field(k), string(v))
	}
	_, _, _, sn := s.cached(ctx, key)
	res, err := s.writeKey(ctx, key, []op{call(createScript, key, args...)}, s.indexOps(rec.Principal, id, rec.Deadline))
	if err == nil {
		err = firstErr(res)
	}
	if err != nil {
		return "", fail("create", err)
	}
	if s.near != nil {
		if ver, err := res[0].AsUint64(); err == nil {
			s.near.fill(key, created(rec), ver, sn)
		}
	}
	return t, nil
}

// wrote notes a local write of key for rueidis's near cache (Redis
// Cluster).
func (s *Store) wrote(key string) {
	if s.cache != nil {
		s.cache.wrote(key)
	}
}

// forget drops key from the store's near cache, after a write that does
// not fill it.
func (s *Store) forget(key string) {
	if s.near != nil {
		s.near.forget(key)
	}
}

// Commit implements sessionkit.Store in one round trip: a script that
// applies the delta only if the session still exists. A commit that
// changes the principal costs a second round trip to take the session off
// its previous principal's index.
func (s *Store) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	ctx, cancel, err := s.begin(ctx, "commit")
	if err != nil {
		return "", err
	}
	defer cancel()
	key, id := s.sessionKey(t)
	nmeta := 0
	if d.Meta != nil {
		nmeta = metaPairs
	}
	args := make([]string, 0, 4+2*(len(d.Set)+nmeta)+len(d.Deleted))
	args = append(args, ms(d.IdleDeadline), strconv.Itoa(len(d.Set)), strconv.Itoa(len(d.Deleted)), strconv.Itoa(nmeta))
	for _, e := range d.Set {
		args = append(args, field(e.Key), string(e.Value))
	}
	var side []op
	if d.Meta != nil {
		args = metaArgs(args, d.Meta)
		side = s.indexOps(d.Meta.Principal, id, d.Meta.Deadline)
	}
	for _, k := range d.Deleted {
		args = append(args, field(k))
	}
	base, bver, hit, sn := s.cached(ctx, key)
	res, err := s.writeKey(ctx, key, []op{call(commitScript, key, args...)}, side)
	if err == nil {
		err = firstErr(res)
	}
	if err != nil {
		return "", fail("commit", err)
	}
	reply, err := res[0].ToArray()
	if rueidis.IsRedisNil(err) {
		if s.near != nil {
			s.near.forget(key)
		}
		return "", sessionkit.ErrNotFound
	}
	if err == nil && len(reply) != 2 {
		err = fmt.Errorf("unexpected reply of %d values", len(reply))
	}
	var old string
	var ver uint64
	if err == nil {
		old, err = reply[0].ToString()
	}
	if err == nil {
		ver, err = reply[1].AsUint64()
	}
	if err != nil {
		if s.near != nil {
			s.near.forget(key)
		}
		return "", fail("commit", err)
	}
	if s.near != nil {
		var rec sessionkit.Record
		if hit {
			rec = applied(base, &d)
		}
		s.filled(key, rec, hit, bver, ver, sn)
	}
	if d.Meta != nil && old != d.Meta.Principal {
		if err := s.unindex(ctx, old, id); err != nil {
			return "", fail("commit", err)
		}
	}
	return t, nil
}

// Touch implements sessionkit.Store with one PEXPIREAT.
func (s *Store) Touch(ctx context.Context, t sessionkit.Token, idleDeadline time.Time) (sessionkit.Token, error) {
	ctx, cancel, err := s.begin(ctx, "touch")
	if err != nil {
		return "", err
	}
	defer cancel()
	key, _ := s.sessionKey(t)
	at := idleDeadline.UnixMilli()
	base, bver, hit, sn := s.cached(ctx, key)
	o := cmd(func(b rueidis.Builder) rueidis.Completed {
		return b.Pexpireat().Key(key).MillisecondsTimestamp(at).Build()
	})
	if s.near != nil {
		o = call(touchScript, key, strconv.FormatInt(at, 10))
	}
	res, err := s.writeKey(ctx, key, []op{o}, nil)
	if err != nil {
		return "", fail("touch", err)
	}
	n, err := res[0].AsInt64()
	if err != nil {
		return "", fail("touch", err)
	}
	if n == 0 {
		if s.near != nil {
			s.near.forget(key)
		}
		return "", sessionkit.ErrNotFound
	}
	if hit {
		// A touch keeps the version: the fill replaces the entry
		// of the same version with its later idle deadline.
		base.IdleDeadline = time.UnixMilli(at)
		s.near.fill(key, base, bver, sn)
	}
	return t, nil
}

// Update implements sessionkit.Store by compare-and-set: it reads the key,
// calls fn, and writes fn's result with a script that checks the key still
// holds what fn saw. When it does not, the script returns the current value
// and Update calls fn again after a short jittered wait, up to
// Config.UpdateAttempts times in all.
func (s *Store) Update(ctx context.Context, t sessionkit.Token, key string, idleDeadline time.Time, fn sessionkit.UpdateFunc) (sessionkit.Token, error) {
	ctx, cancel, err := s.begin(ctx, "update")
	if err != nil {
		return "", err
	}
	defer cancel()
	hkey, _ := s.sessionKey(t)
	f := field(key)
	base, bver, hit, sn := s.cached(ctx, hkey)
	var cur string
	var present bool
	if hit {
		// The function runs on the cached value: if another write
		// changed it since, the script refuses the write and returns
		// the current value in the same round trip.
		var v []byte
		v, present = base.Values[key]
		cur = string(v)
	} else {
		var c rueidis.CoreClient = s.client
		var dc rueidis.DedicatedClient
		if s.near != nil && sn.ok {
			if dc, _ = s.near.conn(ctx, hkey, false); dc != nil {
				c = dc // the compare-and-set goes there: let it read there too
			}
		}
		b := c.B()
		if dc != nil {
			if err := s.near.enter(ctx); err != nil {
				return "", fail("update", err)
			}
		}
		res := c.DoMulti(ctx, b.Exists().Key(hkey).Build(), b.Hget().Key(hkey).Field(f).Build())
		if dc != nil {
			s.near.leave()
			if err := firstErr(res); err != nil {
				again := s.near.failed(dc, err, true)
				if cerr := canceled(ctx); cerr != nil {
					return "", fail("update", cerr)
				}
				if again {
					res = s.client.DoMulti(ctx, b.Exists().Key(hkey).Build(), b.Hget().Key(hkey).Field(f).Build())
				}
			}
		}
		n, err := res[0].AsInt64()
		if err != nil {
			return "", fail("update", err)
		}
		if n == 0 {
			return "", sessionkit.ErrNotFound
		}
		cur, err = res[1].ToString()
		present = err == nil
		if err != nil && !rueidis.IsRedisNil(err) {
			return "", fail("update", err)
		}
	}
	dl := ms(idleDeadline)
	for attempt := range s.cfg.UpdateAttempts {
		if attempt > 0 {
			if err := updateBackoff.Wait(ctx, attempt); err != nil {
				return "", fail("update", err)
			}
		}
		var old []byte
		if present {
			old = []byte(cur)
		}
		next, err := fn(old, present)
		if err != nil {
			return "", err
		}
		exp, verb := "0", "d"
		if present {
			exp = "1"
		}
		if next != nil {
			verb = "s"
		}
		res, err := s.writeKey(ctx, hkey, []op{call(casScript, hkey, f, exp, cur, verb, string(next), dl)}, nil)
		if err == nil {
			err = firstErr(res)
		}
		if err != nil {
			return "", fail("update", err)
		}
		reply, err := res[0].ToArray()
		if rueidis.IsRedisNil(err) {
			if s.near != nil {
				s.near.forget(hkey)
			}
			return "", sessionkit.ErrNotFound
		}
		if err != nil || len(reply) == 0 {
			return "", fail("update", fmt.Errorf("unexpected reply: %v", err))
		}
		if ok, _ := reply[0].AsInt64(); ok == 1 {
			if s.near != nil {
				var ver uint64
				if len(reply) > 1 {
					ver, _ = reply[1].AsUint64()
				}
				var rec sessionkit.Record
				if hit && attempt == 0 {
					d := sessionkit.Delta{IdleDeadline: idleDeadline}
					if next != nil {
						d.Set = []sessionkit.Entry{{Key: key, Value: next}}
					} else {
						d.Deleted = []string{key}
					}
					rec = applied(base, &d)
				}
				s.filled(hkey, rec, hit && attempt == 0, bver, ver, sn)
			}
			return t, nil
		}
		s.forget(hkey) // the entry fn ran on, if any, is stale
		present = len(reply) > 1
		cur = ""
		if present {
			if cur, err = reply[1].ToString(); err != nil {
				return "", fail("update", err)
			}
		}
	}
	return "", fmt.Errorf("redisstore: update: %d attempts lost to concurrent writes: %w", s.cfg.UpdateAttempts, sessionkit.ErrConflict)
}

// updateBackoff spaces the attempts of an Update that lost a race: a
// random wait under 500 µs, doubling with each retry up to 20 ms.
var updateBackoff = retry.Backoff{First: 500 * time.Microsecond, Max: 20 * time.Millisecond}

// Renew implements sessionkit.Store as take-then-write: a script removes
// the session under the old token and returns it, then a second round trip
// writes it under the new token (which hashes to another Cluster slot, so
// RENAME cannot serve) and moves its entry in the principal index. Between
// the two the session is under neither token: a concurrent write with the
// old token finds nothing (ErrNotFound) rather than being lost. Should the
// second step fail, the session is lost and the client starts afresh.
func (s *Store) Renew(ctx context.Context, old, next sessionkit.Token) (sessionkit.Token, error) {
	ctx, cancel, err := s.begin(ctx, "renew")
	if err != nil {
		return "", err
	}
	defer cancel()
	oldKey, oldID := s.sessionKey(old)
	newKey, newID := s.sessionKey(next)
	res, err := s.write(ctx, []op{call(takeScript, oldKey)}, nil)
	s.wrote(oldKey)
	s.forget(oldKey)
	if err == nil {
		err = firstErr(res)
	}
	if err != nil {
		return "", fail("renew", err)
	}
	reply, err := res[0].ToArray()
	if rueidis.IsRedisNil(err) {
		return "", sessionkit.ErrNotFound
	}
	if err != nil || len(reply) != 2 {
		return "", fail("renew", fmt.Errorf("unexpected reply: %v", err))
	}
	expiry, err := reply[0].AsInt64()
	if err != nil {
		return "", fail("renew", err)
	}
	flat, err := reply[1].AsStrSlice()
	if err != nil {
		return "", fail("renew", err)
	}
	args := append(make([]string, 0, 1+len(flat)), strconv.FormatInt(expiry, 10))
	args = append(args, flat...)
	var side []op
	if p := principalOf(flat); p != "" {
		var deadline time.Time
		for i := 0; i+1 < len(flat); i += 2 {
			if flat[i] == fieldDeadline {
				deadline, _ = fromMS(flat[i+1])
			}
		}
		side = append(s.indexOps(p, newID, deadline), cmd(func(b rueidis.Builder) rueidis.Completed {
			return b.Zrem().Key(s.indexKey(p)).Member(oldID).Build()
		}))
	}
	res, err = s.write(ctx, []op{call(createScript, newKey, args...)}, side)
	s.wrote(newKey)
	s.forget(newKey)
	if err == nil {
		err = firstErr(res)
	}
	if err != nil {
		return "", fail("renew", err)
	}
	return next, nil
}

// Delete implements sessionkit.Store: one round trip, and a second to take
// the session off its principal's index when it had a principal.
func (s *Store) Delete(ctx context.Context, t sessionkit.Token) error {
	ctx, cancel, err := s.begin(ctx, "delete")
	if err != nil {
		return err
	}
	defer cancel()
	key, id := s.sessionKey(t)
	res, err := s.write(ctx, []op{call(deleteScript, key)}, nil)
	s.wrote(key)
	s.forget(key)
	if err == nil {
		err = firstErr(res)
	}
	if err != nil {
		return fail("delete", err)
	}
	p, err := res[0].ToString()
	if rueidis.IsRedisNil(err) {
		return nil
	}
	if err != nil {
		return fail("delete", err)
	}
	if err := s.unindex(ctx, p, id); err != nil {
		return fail("delete", err)
	}
	return nil
}

// members prunes the principal's index of sessions past their absolute
// deadline and returns the ids it holds.
