package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
)

// op is one command of a pipeline: a script call, or a plain command.
type op struct {
	sc   *script
	keys []string
	args []string
	cmd  func(b rueidis.Builder) rueidis.Completed
}

func (o *op) build(b rueidis.Builder, eval bool) rueidis.Completed {
	switch {
	case o.sc == nil:
		return o.cmd(b)
	case eval:
		return b.Eval().Script(o.sc.src).Numkeys(int64(len(o.keys))).Key(o.keys...).Arg(o.args...).Build()
	default:
		return b.Evalsha().Sha1(o.sc.sha).Numkeys(int64(len(o.keys))).Key(o.keys...).Arg(o.args...).Build()
	}
}

func call(sc *script, key string, args ...string) op {
	return op{sc: sc, keys: []string{key}, args: args}
}

func cmd(f func(b rueidis.Builder) rueidis.Completed) op { return op{cmd: f} }

// pipeline sends ops in one round trip. A script Redis does not know yet
// (NOSCRIPT: first use, or a node that restarted or was promoted) is sent
// again in full with EVAL, with any op marked by again (a WAIT) after it.
func pipeline(ctx context.Context, c rueidis.CoreClient, ops []op, again int) []rueidis.RedisResult {
	b := c.B()
	cmds := make(rueidis.Commands, len(ops))
	for i := range ops {
		cmds[i] = ops[i].build(b, false)
	}
	res := c.DoMulti(ctx, cmds...)
	var retry []int
	for i, r := range res {
		if ops[i].sc == nil {
			continue
		}
		if e, ok := rueidis.IsRedisErr(r.Error()); ok && e.IsNoScript() {
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return res
	}
	if again >= 0 {
		retry = append(retry, again)
	}
	cmds = cmds[:0]
	for _, i := range retry {
		cmds = append(cmds, ops[i].build(b, true))
	}
	for j, r := range c.DoMulti(ctx, cmds...) {
		res[retry[j]] = r
	}
	return res
}

// write sends the commands of one session key (main) and of other keys
// (side, such as the principal index) in one round trip. With WaitReplicas
// set, main goes over a dedicated connection followed by WAIT, and side
// separately.
func (s *Store) write(ctx context.Context, main, side []op) ([]rueidis.RedisResult, error) {
	if s.cfg.WaitReplicas <= 0 {
		return pipeline(ctx, s.client, append(main, side...), -1), nil
	}
	if len(main) > 1 {
		// A dedicated connection serves one Cluster slot: wait for
		// each session's write on its own.
		var res []rueidis.RedisResult
		for i := range main {
			r, err := s.write(ctx, main[i:i+1], nil)
			if err != nil {
				return nil, err
			}
			res = append(res, r...)
		}
		if len(side) > 0 {
			res = append(res, pipeline(ctx, s.client, side, -1)...)
		}
		return res, nil
	}
	n := int64(s.cfg.WaitReplicas)
	timeout := s.cfg.WaitTimeout.Milliseconds()
	ops := append(main[:len(main):len(main)], cmd(func(b rueidis.Builder) rueidis.Completed {
		return b.Wait().Numreplicas(n).Timeout(timeout).Build()
	}))
	var res []rueidis.RedisResult
	err := s.client.Dedicated(func(dc rueidis.DedicatedClient) error {
		res = pipeline(ctx, dc, ops, len(ops)-1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	acked, werr := res[len(res)-1].AsInt64()
	res = res[:len(res)-1]
	if len(side) > 0 {
		res = append(res, pipeline(ctx, s.client, side, -1)...)
	}
	for _, r := range res[:len(main)] {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return res, nil // the caller reports it
		}
	}
	if werr != nil {
		return nil, werr
	}
	if acked < n {
		return nil, fmt.Errorf("%w (%d of %d within %v): %w", ErrNotReplicated, acked, n, s.cfg.WaitTimeout, sessionkit.ErrUnavailable)
	}
	return res, nil
}

// firstErr returns the first error among results, Redis nil replies
// excepted.
func firstErr(res []rueidis.RedisResult) error {
	for _, r := range res {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}

// unsent reports whether none of res's commands went out: every one
// failed on a dedicated client already given back.
func unsent(res []rueidis.RedisResult) bool {
	for _, r := range res {
		if !errors.Is(r.Error(), rueidis.ErrDedicatedClientRecycled) {
			return false
		}
	}
	return true
}
