package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/rueidis"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/internal/sesstable/sesstabletest"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/redisstore"
)

// BenchmarkBytesPerSession fills each store with the 200-byte session
// (nine keys, a principal of 11 bytes) and reports what one session costs:
// the Go heap in use after a GC for the in-process stores, Redis's
// used_memory for the Redis stores (each on a redis-server of its own,
// started empty). It fills 1,000,000 and 1,500,000 sessions
// (SESSIONKIT_BYTES for other counts), once each whatever b.N, which
// takes minutes and gigabytes:
//
//	go test -run '^$' -bench BytesPerSession -benchtime 1x -timeout 40m .
//
// A sub-benchmark runs one store at one count, e.g. -bench
// 'BytesPerSession/sessionkit-memstore/1000000'. The cluster store's node
// is measured by clusterstore's own BenchmarkBytesPerSession, with the
// same session.
func BenchmarkBytesPerSession(b *testing.B) {
	data := len(sesstabletest.Principal(0))
	for k, v := range encoded("200B") {
		data += len(k) + len(v)
	}
	for _, n := range sesstabletest.SessionCounts(b) {
		for _, c := range []struct {
			name string
			fill func(tb testing.TB, n int) (inUse, live float64)
		}{
			{"sessionkit-memstore", fillMemstore},
			{"scs-memstore", fillScsMem},
			{"sessionkit-redisstore", fillRedisstore},
			{"scs-redisstore", fillScsRedis},
		} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				inUse, live := c.fill(b, n)
				for b.Loop() {
				}
				b.ReportMetric(inUse, "B/session")
				if live > 0 {
					b.ReportMetric(live, "live-B/session")
				}
				b.ReportMetric(float64(data), "data-B/session")
			})
		}
	}
}

func sessionMeta(i int) sessionkit.Meta {
	now := time.Now()
	return sessionkit.Meta{Principal: sesstabletest.Principal(i), Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour), IdleTimeout: time.Hour}
}

func fillMemstore(t testing.TB, n int) (float64, float64) {
	ctx := context.Background()
	values := encoded("200B")
	var s *memstore.Store
	inUse, live := sesstabletest.HeapPerSession(n, func() {
		s = memstore.New(memstore.Config{MaxSessions: -1, CleanupInterval: time.Hour})
		for i := range n {
			if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: sessionMeta(i), Values: values}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if got := s.Stats().Sessions; got != n {
		t.Fatalf("memstore holds %d sessions, want %d", got, n)
	}
	s.Close()
	return inUse, live
}

func fillScsMem(t testing.TB, n int) (float64, float64) {
	expiry := time.Now().Add(24 * time.Hour)
	b, err := scs.GobCodec{}.Encode(expiry, session("200B"))
	if err != nil {
		t.Fatal(err)
	}
	var s *scsmem.MemStore
	inUse, live := sesstabletest.HeapPerSession(n, func() {
		s = scsmem.NewWithCleanupInterval(0)
		for range n {
			// Every session is encoded on its own: a copy each.
			if err := s.Commit(string(sessionkit.NewToken()), append([]byte(nil), b...), expiry); err != nil {
				t.Fatal(err)
			}
		}
	})
	if all, err := s.All(); err != nil || len(all) != n {
		t.Fatalf("scs memstore holds %d sessions (%v), want %d", len(all), err, n)
	}
	return inUse, live
}

// usedMemory returns redis-server's used_memory.
func usedMemory(t testing.TB, c rueidis.Client) float64 {
	info, err := c.Do(context.Background(), c.B().Info().Section("memory").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

// inParallel runs f(i) for i in [0, n) on a few goroutines, each of
// which holds a connection: Redis fills at its own pace, not one round
// trip at a time.
func inParallel(t testing.TB, n int, f func(i int) error) {
	const workers = 32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// redisUsed starts an empty redis-server, runs fill against its URL and
// returns the used_memory fill added, per session.
func redisUsed(t testing.TB, n int, fill func(url string)) float64 {
	srv := redistest.Start(t)
	defer srv.Kill()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := usedMemory(t, c)
	fill(srv.URL())
	if k, err := c.Do(context.Background(), c.B().Dbsize().Build()).AsInt64(); err != nil || k < int64(n) {
		t.Fatalf("redis holds %d keys (%v), want at least %d", k, err, n)
	}
	return (usedMemory(t, c) - before) / float64(n)
}

func fillRedisstore(t testing.TB, n int) (float64, float64) {
	ctx := context.Background()
	values := encoded("200B")
	return redisUsed(t, n, func(url string) {
		// The fill keeps Redis busy on a shared machine: calls wait.
		s, err := redisstore.New(ctx, redisstore.Config{URL: url, OpTimeout: time.Minute, WriteTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		inParallel(t, n, func(i int) error {
			_, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: sessionMeta(i), Values: values})
			return err
		})
	}), 0
}

func fillScsRedis(t testing.TB, n int) (float64, float64) {
	expiry := time.Now().Add(24 * time.Hour)
	b, err := scs.GobCodec{}.Encode(expiry, session("200B"))
	if err != nil {
		t.Fatal(err)
	}
	return redisUsed(t, n, func(url string) {
		addr := strings.TrimPrefix(url, "redis://")
		pool := &redigo.Pool{MaxIdle: 32, Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) }}
		defer pool.Close()
		s := scsredis.New(pool)
		inParallel(t, n, func(i int) error {
			return s.Commit(string(sessionkit.NewToken()), b, expiry)
		})
	}), 0
}
