package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
)

// indexOps returns the commands that file the session id under the
// principal, scored by its absolute deadline, and prune the principal's
// index of every session past its absolute deadline.
func (s *Store) indexOps(principal, id string, deadline time.Time) []op {
	if principal == "" {
		return nil
	}
	idx := s.indexKey(principal)
	score := float64(deadline.UnixMilli())
	now := "(" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	return []op{
		cmd(func(b rueidis.Builder) rueidis.Completed {
			return b.Zadd().Key(idx).ScoreMember().ScoreMember(score, id).Build()
		}),
		cmd(func(b rueidis.Builder) rueidis.Completed {
			return b.Zremrangebyscore().Key(idx).Min("-inf").Max(now).Build()
		}),
	}
}

// unindex removes ids from the principal's index.
func (s *Store) unindex(ctx context.Context, principal string, ids ...string) error {
	if principal == "" || len(ids) == 0 {
		return nil
	}
	return s.client.Do(ctx, s.client.B().Zrem().Key(s.indexKey(principal)).Member(ids...).Build()).Error()
}

func (s *Store) members(ctx context.Context, principal string) ([]string, error) {
	idx := s.indexKey(principal)
	now := "(" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	b := s.client.B()
	res := s.client.DoMulti(ctx,
		b.Zremrangebyscore().Key(idx).Min("-inf").Max(now).Build(),
		b.Zrange().Key(idx).Min("0").Max("-1").Build())
	if err := firstErr(res); err != nil {
		return nil, err
	}
	return res[1].AsStrSlice()
}

// batch is how many sessions one pipeline of Sessions or RevokeAll covers.
const batch = 512

// Sessions implements sessionkit.Principals from the principal's index,
// without scanning the keyspace: one round trip for the index, one per 512
// sessions to read them, and one to drop index entries whose session has
// gone.
func (s *Store) Sessions(ctx context.Context, principal string) ([]sessionkit.Info, error) {
	ctx, cancel, err := s.begin(ctx, "sessions")
	if err != nil {
		return nil, err
	}
	defer cancel()
	ids, err := s.members(ctx, principal)
	if err != nil {
		return nil, fail("sessions", err)
	}
	var infos []sessionkit.Info
	var stale []string
	now := time.Now()
	b := s.client.B()
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		cmds := make(rueidis.Commands, 0, 2*len(chunk))
		for _, id := range chunk {
			k := s.keyOfID(id)
			cmds = append(cmds, b.Hgetall().Key(k).Build(), b.Pexpiretime().Key(k).Build())
		}
		res := s.client.DoMulti(ctx, cmds...)
		if err := firstErr(res); err != nil {
			return nil, fail("sessions", err)
		}
		for i, id := range chunk {
			fields, _ := res[2*i].AsStrMap()
			expiry, _ := res[2*i+1].AsInt64()
			rec, ok := decode(fields, expiry)
			if !ok || rec.Principal != principal || rec.Expired(now) {
				stale = append(stale, id)
				continue
			}
			infos = append(infos, sessionkit.Info{ID: id, Meta: rec.Meta})
		}
	}
	if err := s.unindex(ctx, principal, stale...); err != nil {
		return nil, fail("sessions", err)
	}
	return infos, nil
}

// RevokeAll implements sessionkit.Principals: it deletes, one script per
// session (each in its own Cluster slot, pipelined), every session the
// principal's index lists that still belongs to the principal, then removes
// those entries from the index. A session logged in while RevokeAll runs
// may survive it.
func (s *Store) RevokeAll(ctx context.Context, principal string) (int, error) {
	ctx, cancel, err := s.begin(ctx, "revoke")
	if err != nil {
		return 0, err
	}
	defer cancel()
	ids, err := s.members(ctx, principal)
	if err != nil {
		return 0, fail("revoke", err)
	}
	n := 0
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		ops := make([]op, len(chunk))
		for i, id := range chunk {
			ops[i] = call(revokeScript, s.keyOfID(id), principal)
		}
		res, err := s.write(ctx, ops, nil)
		for _, id := range chunk {
			s.wrote(s.keyOfID(id))
			s.forget(s.keyOfID(id))
		}
		if err == nil {
			err = firstErr(res)
		}
		if err != nil {
			return n, fail("revoke", err)
		}
		for _, r := range res {
			if v, _ := r.AsInt64(); v == 1 {
				n++
			}
		}
	}
	if err := s.unindex(ctx, principal, ids...); err != nil {
		return n, fail("revoke", err)
	}
	return n, nil
}

// Generation implements sessionkit.Generations.
func (s *Store) Generation(ctx context.Context, principal string) (uint64, error) {
	ctx, cancel, err := s.begin(ctx, "generation")
	if err != nil {
		return 0, err
	}
	defer cancel()
	v, err := s.client.Do(ctx, s.client.B().Get().Key(s.generationKey(principal)).Build()).AsUint64()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("generation", err)
	}
	return v, nil
}

// Generations implements sessionkit.MultiGenerations: the GETs go out
// together, in one round trip (on a Redis Cluster, one per node, in
// parallel).
func (s *Store) Generations(ctx context.Context, names ...string) ([]uint64, error) {
	ctx, cancel, err := s.begin(ctx, "generation")
	if err != nil {
		return nil, err
	}
	defer cancel()
	cmds := make(rueidis.Commands, len(names))
	for i, n := range names {
		cmds[i] = s.client.B().Get().Key(s.generationKey(n)).Build()
	}
	gens := make([]uint64, len(names))
	for i, res := range s.client.DoMulti(ctx, cmds...) {
		v, err := res.AsUint64()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, fail("generation", err)
		}
		gens[i] = v
	}
	return gens, nil
}

// BumpUntil implements sessionkit.ExpiringGenerations with INCR and
// PEXPIREAT, in one script: Redis removes the counter after its latest
// deadline.
func (s *Store) BumpUntil(ctx context.Context, name string, deadline time.Time) (uint64, error) {
	return s.bump(ctx, call(bumpUntilScript, s.generationKey(name), strconv.FormatInt(deadline.UnixMilli(), 10)))
}

// Bump implements sessionkit.Generations with INCR, and PERSIST: a
// counter Bump has bumped is kept for good.
func (s *Store) Bump(ctx context.Context, principal string) (uint64, error) {
	return s.bump(ctx, call(bumpScript, s.generationKey(principal)))
}

// bump runs one counter increment and returns the counter's new value.
func (s *Store) bump(ctx context.Context, o op) (uint64, error) {
	ctx, cancel, err := s.begin(ctx, "bump")
	if err != nil {
		return 0, err
	}
	defer cancel()
	res, err := s.write(ctx, []op{o}, nil)
	if err != nil {
		return 0, fail("bump", err)
	}
	v, err := res[0].AsUint64()
	if err != nil {
		return 0, fail("bump", err)
	}
	return v, nil
}
