package bench

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
)

// startRedis starts a redis-server without persistence on a free loopback
// port and returns its URL; it is killed when the benchmark ends.
func startRedis(b *testing.B) string { return redistest.Start(b).URL() }

// BenchmarkRedisFloor is the least any Redis session store can do per
// request: one HGETALL to load, and one pipelined HSET+PEXPIRE to write a
// changed key back, straight through rueidis.
func BenchmarkRedisFloor(b *testing.B) {
	url := startRedis(b)
	c := rueidisClient(b, url)
	ctx := context.Background()
	key := "floor:" + string(sessionkit.NewToken())
	args := c.B().Hset().Key(key).FieldValue()
	for k, v := range encoded("200B") {
		args = args.FieldValue(k, string(v))
	}
	if err := c.Do(ctx, args.Build()).Error(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(ctx, c.B().Hgetall().Key(key).Build()).AsStrMap(); err != nil {
			b.Fatal(err)
		}
		res := c.DoMulti(ctx,
			c.B().Hset().Key(key).FieldValue().FieldValue("key0", "value-0-changed-000000").Build(),
			c.B().Pexpire().Key(key).Milliseconds(int64(30*time.Minute/time.Millisecond)).Build())
		for _, r := range res {
			if err := r.Error(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRedisRoundTrip is one round trip, the unit of every Redis
// store's cost: a GET of a 200-byte value, one at a time, through redigo
// (scs's client, a synchronous write and read on the caller's goroutine)
// and through rueidis (sessionkit's: a call alone on a connection that
// receives no push messages is written and read on the caller's
// goroutine too; otherwise the connection's own goroutines write and
// read, pipelining whatever callers send), on a pooled and on a dedicated
// connection, and on the near cache's tracking connection.
func BenchmarkRedisRoundTrip(b *testing.B) {
	url := startRedis(b)
	ctx := context.Background()
	value := strings.Repeat("v", 200)
	b.Run("redigo", func(b *testing.B) {
		conn, err := redigo.Dial("tcp", strings.TrimPrefix(url, "redis://"))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Do("SET", "rt", value); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := redigo.Bytes(conn.Do("GET", "rt")); err != nil {
				b.Fatal(err)
			}
		}
	})
	c := rueidisClient(b, url)
	if err := c.Do(ctx, c.B().Set().Key("rt").Value(value).Build()).Error(); err != nil {
		b.Fatal(err)
	}
	b.Run("rueidis", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Do(ctx, c.B().Get().Key("rt").Build()).AsBytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rueidis-dedicated", func(b *testing.B) {
		dc, release := c.Dedicate()
		defer release()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dc.Do(ctx, dc.B().Get().Key("rt").Build()).AsBytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The near cache's tracking connection, each call with a deadline as
	// the store gives it: receiving its own invalidations (as it did
	// before), rueidis runs its writer and reader goroutines; with them
	// redirected to another connection, it writes and reads on the
	// caller's goroutine.
	for _, redirect := range []bool{false, true} {
		name := "rueidis-tracking"
		if redirect {
			name = "rueidis-tracking-redirect"
		}
		b.Run(name, func(b *testing.B) {
			// A client of its own: a connection that ran rueidis's
			// goroutines goes on running them in the pool.
			c := rueidisClient(b, url)
			dc, release := c.Dedicate()
			defer release()
			args := []string{"ON", "NOLOOP"}
			if redirect {
				inv, release := c.Dedicate()
				defer release()
				inv.SetOnInvalidations(func([]rueidis.RedisMessage) {})
				id, err := inv.Do(ctx, inv.B().ClientId().Build()).AsInt64()
				if err != nil {
					b.Fatal(err)
				}
				args = append(args, "REDIRECT", strconv.FormatInt(id, 10))
				defer dc.Do(ctx, dc.B().Arbitrary("CLIENT", "TRACKING").Args("OFF").Build())
			} else {
				dc.SetOnInvalidations(func([]rueidis.RedisMessage) {})
			}
			if err := dc.Do(ctx, dc.B().Arbitrary("CLIENT", "TRACKING").Args(args...).Build()).Error(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(ctx, time.Second)
				_, err := dc.Do(ctx, dc.B().Get().Key("rt").Build()).AsBytes()
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rueidisClient is a plain rueidis client of the server at url, without
// client-side caching, closed when the benchmark ends.
func rueidisClient(b *testing.B, url string) rueidis.Client {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func openStore(b *testing.B, url string, nc *redisstore.NearCache) *redisstore.Store {
	b.Helper()
	s, err := redisstore.New(context.Background(), redisstore.Config{URL: url, NearCache: nc})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func createSession(b *testing.B, s *redisstore.Store) sessionkit.Token {
	b.Helper()
	now := time.Now()
	tok, err := s.Create(context.Background(), sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Created: now, IdleTimeout: 30 * time.Minute, IdleDeadline: now.Add(30 * time.Minute), Deadline: now.Add(24 * time.Hour)},
		Values: encoded("200B"),
	})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkRedisStore is a request's store work through redisstore: Load
// of a 9-key session of about 200 bytes, then Commit of a delta with one
// key changed.
func BenchmarkRedisStore(b *testing.B) {
	s := openStore(b, startRedis(b), nil)
	tok := createSession(b, s)
	loadCommit(b, s, tok)
}

// loadCommit runs, b.N times, a request's store work: Load of the 9-key
// session tok, then Commit of a delta with one key changed.
func loadCommit(b *testing.B, s *redisstore.Store, tok sessionkit.Token) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rec, found, err := s.Load(ctx, tok)
		if err != nil || !found || len(rec.Values) != 9 {
			b.Fatalf("Load: %v %v %d", found, err, len(rec.Values))
		}
		d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "last_seen", Value: []byte("value-0-changed-000000")}}, IdleDeadline: time.Now().Add(30 * time.Minute)}
		if _, err := s.Commit(ctx, tok, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisStoreNearCacheLoad is a read-only request's store work with
// the near cache: a Load that hits it, no round trip. Another store creates
// the session, as another node would.
func BenchmarkRedisStoreNearCacheLoad(b *testing.B) {
	url := startRedis(b)
	tok := createSession(b, openStore(b, url, nil))
	s := openStore(b, url, &redisstore.NearCache{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rec, found, err := s.Load(ctx, tok)
		if err != nil || !found || len(rec.Values) != 9 {
			b.Fatalf("Load: %v %v %d", found, err, len(rec.Values))
		}
	}
	if st := s.Stats(); st.CacheMisses > 1 {
		b.Fatalf("near cache: %+v, want one miss", st)
	}
}

// BenchmarkRedisStoreNearCache is BenchmarkRedisStore with the near cache:
// the Load hits the entry the previous Commit's reply filled, so the
// request costs one round trip, the Commit.
func BenchmarkRedisStoreNearCache(b *testing.B) {
	s := openStore(b, startRedis(b), &redisstore.NearCache{})
	tok := createSession(b, s)
	loadCommit(b, s, tok)
	if st := s.Stats(); st.CacheMisses > 1 {
		b.Fatalf("near cache: %+v, want at most one miss", st)
	}
}
