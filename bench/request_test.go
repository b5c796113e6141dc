package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// benchSession is the request benchmarks' session: the 200-byte one.
var benchSession = session("200B")

// target is one contender: a handler that reads "user_id" and writes
// "last_seen", and the Cookie header of an existing session holding the
// benchmark session.
type target struct {
	h      http.Handler
	cookie string
}

// run measures one request through t: a request with the session's
// cookie, the handler, the commit.
func run(b *testing.B, t target) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/", nil)
		if t.cookie != "" {
			r.Header.Set("Cookie", t.cookie)
		}
		w := httptest.NewRecorder()
		t.h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(len(t.cookie)), "cookie-bytes")
}

// seed runs one request through h that stores the benchmark session, and
// returns the Cookie header that names it.
func seed(b *testing.B, h http.Handler) string {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/seed", nil))
	var parts []string
	for _, c := range w.Result().Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) == 0 {
		b.Fatal("seeding set no cookie")
	}
	return strings.Join(parts, "; ")
}

// The handler's work: read one key and write one, only read, or leave
// the session alone.
const (
	readWrite = iota
	readOnly
	untouched
)

func sessionkitTarget(b *testing.B, store sessionkit.Store, mode int) target {
	return sessionkitTargetConfig(b, store, mode, sessionkit.Config{})
}

func sessionkitTargetConfig(b *testing.B, store sessionkit.Store, mode int, cfg sessionkit.Config) target {
	mgr, err := sessionkit.New(store, cfg)
	if err != nil {
		b.Fatal(err)
	}
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mode == untouched {
			return
		}
		s := sessionkit.FromContext(r.Context())
		if r.URL.Path == "/seed" {
			for k, v := range benchSession {
				s.Set(k, v)
			}
			return
		}
		if _, ok := sessionkit.Get[int](s, "user_id"); !ok {
			http.Error(w, "no session", 500)
			return
		}
		if mode == readWrite {
			s.Set("last_seen", time.Now().Unix())
		}
	}))
	return target{h: h, cookie: seed(b, mgr.Handler(seedHandler()))}
}

// seedHandler stores the benchmark session.
func seedHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		for k, v := range benchSession {
			s.Set(k, v)
		}
	})
}

func scsTarget(b *testing.B, store scs.Store) target {
	sm := scs.New()
	sm.Store = store
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if r.URL.Path == "/seed" {
			for k, v := range benchSession {
				sm.Put(ctx, k, v)
			}
			return
		}
		if sm.GetInt(ctx, "user_id") == 0 {
			http.Error(w, "no session", 500)
			return
		}
		sm.Put(ctx, "last_seen", time.Now().Unix())
	}))
	return target{h: h, cookie: seed(b, h)}
}

func gorillaTarget(b *testing.B) target {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210"))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		if r.URL.Path == "/seed" {
			for k, v := range benchSession {
				s.Values[k] = v
			}
		} else if _, ok := s.Values["user_id"].(int); !ok {
			http.Error(w, "no session", 500)
			return
		} else {
			s.Values["last_seen"] = time.Now().Unix()
		}
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	return target{h: h, cookie: seed(b, h)}
}

// ctxKey is the context key of the context-only middleware.
type ctxKey struct{}

func BenchmarkRequest(b *testing.B) {
	cookie := "__Host-session=" + strings.Repeat("A", 43)
	b.Run("bare", func(b *testing.B) {
		run(b, target{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), cookie: cookie})
	})
	// The least a session middleware does: a state of its own in the
	// request's context (about the Manager's), and Vary: Cookie.
	b.Run("context-only", func(b *testing.B) {
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		run(b, target{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := new([400]byte)
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))
			w.Header()["Vary"] = []string{"Cookie"}
			next.ServeHTTP(w, r)
		}), cookie: cookie})
	})
	b.Run("sessionkit-no-store", func(b *testing.B) {
		run(b, sessionkitTarget(b, &nullStore{}, readWrite))
	})
	b.Run("sessionkit-mem", func(b *testing.B) {
		store := memstore.New(memstore.Config{})
		defer store.Close()
		run(b, sessionkitTarget(b, store, readWrite))
	})
	b.Run("sessionkit-mem-untouched", func(b *testing.B) {
		store := memstore.New(memstore.Config{})
		defer store.Close()
		run(b, sessionkitTarget(b, store, untouched))
	})
	b.Run("scs-mem", func(b *testing.B) {
		run(b, scsTarget(b, scsmem.New()))
	})
	b.Run("gorilla-cookie", func(b *testing.B) {
		run(b, gorillaTarget(b))
	})
	b.Run("sessionkit-cookie", func(b *testing.B) {
		ct := &sessionkit.CookieTransport{}
		store, err := cookiestore.New(cookiestore.Config{Keys: []cookiestore.Key{{Secret: bytes.Repeat([]byte{7}, 32)}}, Name: ct.CookieName(), MaxTokenLen: ct.MaxTokenLen()})
		if err != nil {
			b.Fatal(err)
		}
		run(b, sessionkitTargetConfig(b, store, readWrite, sessionkit.Config{Transport: ct}))
	})
	for _, c := range []struct {
		name string
		mode int
		near bool
	}{{"sessionkit-redis", readWrite, false}, {"sessionkit-redis-readonly", readOnly, false}, {"sessionkit-redis-nearcache-readonly", readOnly, true}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := redisstore.Config{URL: startRedis(b)}
			if c.near {
				cfg.NearCache = &redisstore.NearCache{WriteBypass: time.Nanosecond} // the benchmark reads what another node wrote long ago
			}
			store, err := redisstore.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			run(b, sessionkitTarget(b, store, c.mode))
		})
	}
	b.Run("sessionkit-redis-nearcache", func(b *testing.B) {
		store, err := redisstore.New(context.Background(), redisstore.Config{URL: startRedis(b), NearCache: &redisstore.NearCache{}})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		run(b, sessionkitTarget(b, store, readWrite))
	})
	b.Run("sessionkit-redis-nearcache-2node", func(b *testing.B) {
		// Two nodes on one Redis, each with its near cache; requests
		// alternate between them, so each finds its entry invalidated
		// by the other's commit: a load and a commit per request.
		url := startRedis(b)
		var nodes [2]target
		for i := range nodes {
			store, err := redisstore.New(context.Background(), redisstore.Config{URL: url, NearCache: &redisstore.NearCache{}})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			nodes[i] = sessionkitTarget(b, store, readWrite)
		}
		var n int
		run(b, target{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			nodes[n%2].h.ServeHTTP(w, r)
		}), cookie: nodes[0].cookie})
	})
	b.Run("sessionkit-postgres", func(b *testing.B) {
		s, err := pgstore.Open(context.Background(), postgresURL(b))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, sessionkitTarget(b, s, readWrite))
	})
	b.Run("sessionkit-postgres-nearcache", func(b *testing.B) {
		s, err := pgstore.New(context.Background(), pgstore.Config{URL: postgresURL(b), NearCache: &pgstore.NearCache{}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, sessionkitTarget(b, s, readWrite))
	})
	b.Run("sessionkit-postgres-nearcache-readonly", func(b *testing.B) {
		s, err := pgstore.New(context.Background(), pgstore.Config{URL: postgresURL(b), NearCache: &pgstore.NearCache{}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, sessionkitTarget(b, s, readOnly))
	})
	b.Run("sessionkit-sqlite", func(b *testing.B) {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, sessionkitTarget(b, s, readWrite))
	})
	b.Run("scs-postgres", func(b *testing.B) {
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, postgresURL(b))
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		if _, err := pool.Exec(ctx, scsSchema); err != nil {
			b.Fatal(err)
		}
		run(b, scsTarget(b, pgxstore.NewWithCleanupInterval(pool, 0)))
	})
	b.Run("scs-redis", func(b *testing.B) {
		addr := strings.TrimPrefix(startRedis(b), "redis://")
		pool := &redigo.Pool{MaxIdle: 16, Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) }}
		defer pool.Close()
		run(b, scsTarget(b, scsredis.New(pool)))
	})
}

// BenchmarkRequestParallel runs the writing request of BenchmarkRequest
// from 4*GOMAXPROCS goroutines at a time, each with a session of its
// own: requests overlap on the store's connections.
func BenchmarkRequestParallel(b *testing.B) {
	b.Run("sessionkit-redis-nearcache", func(b *testing.B) {
		store, err := redisstore.New(context.Background(), redisstore.Config{URL: startRedis(b), NearCache: &redisstore.NearCache{}})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		runParallel(b, sessionkitTarget(b, store, readWrite))
	})
	b.Run("scs-redis", func(b *testing.B) {
		addr := strings.TrimPrefix(startRedis(b), "redis://")
		pool := &redigo.Pool{MaxIdle: 16, Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) }}
		defer pool.Close()
		runParallel(b, scsTarget(b, scsredis.New(pool)))
	})
}

// runParallel measures requests through t from b's parallel goroutines,
// each with a session of its own, seeded through t's handler.
func runParallel(b *testing.B, t target) {
	b.Helper()
	const parallelism = 4
	cookies := make([]string, parallelism*runtime.GOMAXPROCS(0))
	for i := range cookies {
		cookies[i] = seed(b, t.h)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cookie := cookies[int(next.Add(1)-1)%len(cookies)]
		for pb.Next() {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", cookie)
			w := httptest.NewRecorder()
			t.h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}
