package cli

import (
	"context"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
)

// TestRedisNearCacheFlag checks that the redis store has its near cache
// by default, and none with -redis-near-cache=false: with it, a session's
// second load is a cache hit.
func TestRedisNearCacheFlag(t *testing.T) {
	srv := redistest.Start(t)
	for _, c := range []struct {
		args     []string
		wantHits bool
	}{{nil, true}, {[]string{"-redis-near-cache=false"}, false}} {
		var f storeFlags
		fs := flag.NewFlagSet("node", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.register(fs)
		if err := fs.Parse(append([]string{"-store", "redis"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		f.redis = srv.URL()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		o, err := f.open(ctx, storeEnv{})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		s := o.store.(*redisstore.Store)
		now := time.Now()
		tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}})
		for range 2 {
			if err == nil {
				_, _, err = s.Load(ctx, tok)
			}
		}
		o.close()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if hits := s.Stats().CacheHits > 0; hits != c.wantHits {
			t.Errorf("%v: near cache hits %v, want %v", c.args, hits, c.wantHits)
		}
	}
}
