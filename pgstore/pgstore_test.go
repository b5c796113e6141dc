package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/internal/sqlcore"
	"github.com/sessionkit/sessionkit/internal/sqlcore/sqlcoretest"
	"github.com/sessionkit/sessionkit/pgstore"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.CreateDB(t, "sessions")
	var schemas atomic.Int64
	// Each test gets a fresh schema of the one database.
	sqlcoretest.Run(t, func(t *testing.T) func(sqlcore.Options) (*sqlcore.Store, error) {
		schema := fmt.Sprintf("s%d", schemas.Add(1))
		srv.Exec(t, "sessions", "CREATE SCHEMA "+schema)
		surl := url + "&search_path=" + schema
		return func(opts sqlcore.Options) (*sqlcore.Store, error) {
			return pgstore.New(context.Background(), pgstore.Config{URL: surl, Options: opts})
		}
	})
}

// The same suite with the near cache on: every answer as without it.
func TestPostgresNearCache(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.CreateDB(t, "sessions")
	var schemas atomic.Int64
	sqlcoretest.Run(t, func(t *testing.T) func(sqlcore.Options) (*sqlcore.Store, error) {
		schema := fmt.Sprintf("s%d", schemas.Add(1))
		srv.Exec(t, "sessions", "CREATE SCHEMA "+schema)
		surl := url + "&search_path=" + schema
		return func(opts sqlcore.Options) (*sqlcore.Store, error) {
			return pgstore.New(context.Background(), pgstore.Config{URL: surl, Options: opts, NearCache: &pgstore.NearCache{Heartbeat: 10 * time.Millisecond}})
		}
	})
}

func TestOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, url := range []string{"", "mysql://x", "postgres://u@[::1", "host=x port=notanumber"} {
		if s, err := pgstore.Open(ctx, url); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
	// Nothing listens on port 1: a clear error, wrapping ErrUnavailable.
	_, err := pgstore.Open(ctx, "postgres://u@127.0.0.1:1/db?sslmode=disable&connect_timeout=5")
	if !errors.Is(err, sessionkit.ErrUnavailable) {
		t.Errorf("Open of an unreachable server: %v, want ErrUnavailable", err)
	}
}

// A store on the application's own pool works, and its Close leaves the
// pool to the application.
func TestNewFromPool(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, srv.CreateDB(t, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := pgstore.NewFromPool(ctx, pool, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}, Values: map[string][]byte{"a": {1}}})
	if err != nil {
		t.Fatal(err)
	}
	if rec, ok, err := s.Load(ctx, tok); err != nil || !ok || rec.Values["a"][0] != 1 {
		t.Fatalf("Load = %v, %v, %v", rec, ok, err)
	}
	s.Close()
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("the application's pool after the store's Close: %v", err)
	}
}

// A heartbeat as long as the staleness bound could never keep the cache
// serving: New refuses it before touching the network.
func TestNearCacheConfig(t *testing.T) {
	_, err := pgstore.New(context.Background(), pgstore.Config{URL: "postgres://u@127.0.0.1:1/db", NearCache: &pgstore.NearCache{Heartbeat: time.Second, MaxLag: time.Second}})
	if err == nil || !strings.Contains(err.Error(), "MaxLag") {
		t.Fatalf("New with MaxLag = Heartbeat: %v, want an error naming MaxLag", err)
	}
	// A MaxLag so short that the heartbeat computed from it is zero.
	_, err = pgstore.New(context.Background(), pgstore.Config{URL: "postgres://u@127.0.0.1:1/db", NearCache: &pgstore.NearCache{MaxLag: 2}})
	if err == nil || !strings.Contains(err.Error(), "MaxLag") {
		t.Fatalf("New with MaxLag = 2ns: %v, want an error naming MaxLag", err)
	}
}
