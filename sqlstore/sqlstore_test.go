package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testpg"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/sqlstore"
	"github.com/sessionkit/sessionkit/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// opener opens a store on a fresh, empty database of one dialect; open
// opens another store on the same database.
type opener func(t *testing.T) (open func(t *testing.T, cfg sqlstore.Config) *sqlstore.Store)

func sqliteDB(t *testing.T) func(*testing.T, sqlstore.Config) *sqlstore.Store {
	path := filepath.Join(t.TempDir(), "sessions.db")
	return func(t *testing.T, cfg sqlstore.Config) *sqlstore.Store {
		s, err := sqlstore.OpenSQLite(context.Background(), path, cfg)
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

var schemas atomic.Int64

// postgresDB returns an opener of fresh schemas on one server.
func postgresDB(srv *testpg.Server, url string) opener {
	return func(t *testing.T) func(*testing.T, sqlstore.Config) *sqlstore.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		schema := fmt.Sprintf("s%d", schemas.Add(1))
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		surl := url + "&search_path=" + schema
		return func(t *testing.T, cfg sqlstore.Config) *sqlstore.Store {
			s, err := sqlstore.OpenPostgres(context.Background(), surl, cfg)
			if err != nil {
				t.Fatalf("OpenPostgres: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
}

func TestSQLite(t *testing.T) {
	testDialect(t, sqliteDB)
}

func TestPostgres(t *testing.T) {
	srv := testpg.Start(t, testpg.Options{})
	testDialect(t, postgresDB(srv, srv.CreateDB(t, "sessions")))
}

// testDialect runs the tests every dialect passes.
func testDialect(t *testing.T, newDB opener) {
	t.Run("Conformance", func(t *testing.T) {
		var last *sqlstore.Store
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			last = newDB(t)(t, sqlstore.Config{})
			return last
		}, storetest.AtRest(func() ([]byte, error) { return last.Dump(context.Background()) }))
	})

	t.Run("ConcurrentOpen", func(t *testing.T) {
		open := newDB(t)
		stores := make([]*sqlstore.Store, 6)
		var wg sync.WaitGroup
		for i := range stores {
			wg.Go(func() { stores[i] = open(t, sqlstore.Config{}) })
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		vs, err := stores[0].Migrations(context.Background())
		if err != nil || !slices.Equal(vs, []int{1, 2}) {
			t.Fatalf("migrations = %v, %v; want [1 2], each once", vs, err)
		}
	})

	t.Run("Janitor", func(t *testing.T) {
		s := newDB(t)(t, sqlstore.Config{CleanupInterval: 20 * time.Millisecond, CleanupBatch: 3})
		ctx := context.Background()
		now := time.Now()
		live := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
		short := live
		short.IdleDeadline = now.Add(50 * time.Millisecond)
		for i := range 10 {
			m := short
			if i == 0 {
				m = live
			}
			if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := s.Rows(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d rows left, want the 1 live one", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s.Close() // idempotent
	})

	t.Run("MatchesMemstore", func(t *testing.T) {
		s := newDB(t)(t, sqlstore.Config{})
		ref := memstore.New()
		defer ref.Close()
		differential(t, s, ref)
	})

	t.Run("BadKey", func(t *testing.T) {
		s := newDB(t)(t, sqlstore.Config{})
		ctx := context.Background()
		now := time.Now()
		m := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
		if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m, Values: map[string][]byte{"a\x00": {1}}}); !errors.Is(err, sqlstore.ErrKey) {
			t.Fatalf("Create with a NUL key: %v, want ErrKey", err)
		}
		tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m, Values: map[string][]byte{`"quoted" \ key é`: {1}}})
		if err != nil {
			t.Fatal(err)
		}
		d := sessionkit.Delta{Set: map[string][]byte{"\xff": {1}}, IdleDeadline: m.IdleDeadline}
		if _, err := s.Commit(ctx, tok, d); !errors.Is(err, sqlstore.ErrKey) {
			t.Fatalf("Commit with an invalid UTF-8 key: %v, want ErrKey", err)
		}
		tok, err = s.Update(ctx, tok, `"quoted" \ key é`, m.IdleDeadline, func(old []byte, ok bool) ([]byte, error) {
			if !ok || len(old) != 1 || old[0] != 1 {
				return nil, fmt.Errorf("old = %v, %v", old, ok)
			}
			return []byte{2}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rec, _, err := s.Load(ctx, tok)
		if err != nil || string(rec.Values[`"quoted" \ key é`]) != "\x02" {
			t.Fatalf("Load = %v, %v", rec.Values, err)
		}
	})
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "open.db"), sqlstore.Config{CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, url := range []string{"mysql://x", "", "sessions.db", "sqlite:", "sqlite::memory:", "sqlite:a.db?mode=ro"} {
		if s, err := sqlstore.Open(ctx, url, sqlstore.Config{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
	// Nothing listens on port 1: a clear error, wrapping ErrUnavailable.
	_, err = sqlstore.Open(ctx, "postgres://u@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", sqlstore.Config{})
	if !errors.Is(err, sessionkit.ErrUnavailable) {
		t.Errorf("Open of an unreachable server: %v, want ErrUnavailable", err)
	}
}

// differential applies the same random writes to s and to the memory store
// and checks after each that both hold the same session. The keys include
// what JSON paths, json_patch and jsonb could treat specially.
func differential(t *testing.T, s, ref sessionkit.Store) {
	keys := []string{"a", "a.b", "$", "$.a", `"q"`, `\`, "é", "日本", "\u2028", "[0]", "null", " ", "", "{}", "a/b", "%s"}
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}
	tok := sessionkit.NewToken()
	for _, st := range []sessionkit.Store{s, ref} {
		if _, err := st.Create(ctx, tok, sessionkit.Record{Meta: meta, Values: map[string][]byte{"a": {1}}}); err != nil {
			t.Fatal(err)
		}
	}
	value := func() []byte {
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	for op := range 300 {
		dl := now.Add(time.Hour + time.Duration(op)*time.Millisecond)
		var apply func(st sessionkit.Store) error
		switch rng.IntN(3) {
		case 0, 1:
			d := sessionkit.Delta{Set: map[string][]byte{}, IdleDeadline: dl}
			for range rng.IntN(4) {
				d.Set[keys[rng.IntN(len(keys))]] = value()
			}
			for range rng.IntN(3) {
				if k := keys[rng.IntN(len(keys))]; d.Set[k] == nil {
					d.Deleted = append(d.Deleted, k)
				}
			}
			apply = func(st sessionkit.Store) error { _, err := st.Commit(ctx, tok, d); return err }
		case 2:
			k, v, del := keys[rng.IntN(len(keys))], value(), rng.IntN(3) == 0
			apply = func(st sessionkit.Store) error {
				_, err := st.Update(ctx, tok, k, dl, func(old []byte, ok bool) ([]byte, error) {
					if del {
						return nil, nil
					}
					return append(append([]byte{}, old...), v...), nil
				})
				return err
			}
		}
		for _, st := range []sessionkit.Store{s, ref} {
			if err := apply(st); err != nil {
				t.Fatalf("op %d: %v", op, err)
			}
		}
		got, _, err1 := s.Load(ctx, tok)
		want, _, err2 := ref.Load(ctx, tok)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !maps.EqualFunc(got.Values, want.Values, bytes.Equal) || !got.IdleDeadline.Equal(want.IdleDeadline.Truncate(time.Millisecond)) {
			t.Fatalf("op %d: store holds %q (idle %v), memstore %q (idle %v)", op, got.Values, got.IdleDeadline, want.Values, want.IdleDeadline)
		}
	}
}
