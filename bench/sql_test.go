package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// The PostgreSQL server the benchmarks share, started on first use and
// stopped by TestMain.
var (
	pgOnce sync.Once
	pgSrv  *pgtest.Server
	pgErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgSrv != nil {
		pgSrv.Close()
	}
	os.Exit(code)
}

// postgresURL returns the URL of the shared server's database "postgres",
// skipping (or failing under CI) when PostgreSQL is not installed.
func postgresURL(b *testing.B) string {
	pgOnce.Do(func() { pgSrv, pgErr = pgtest.Launch(pgtest.Options{Durable: true}) })
	if errors.Is(pgErr, pgtest.ErrNoBinaries) && os.Getenv("CI") == "" {
		b.Skip(pgErr)
	}
	if pgErr != nil {
		b.Fatal(pgErr)
	}
	return pgSrv.URL("postgres")
}

// sessionValues are the 9 values of a typical logged-in shopper's session,
// about 200 bytes encoded. visits is the key each request changes.
func sessionValues() map[string]any {
	return map[string]any{
		"user_id": 48213, "name": "Alice Example", "email": "alice@example.com", "role": "customer",
		"cart": []string{"sku-10042", "sku-20577", "sku-31108"}, "csrf": "q5Jx0PzV3k9bLwR2mN8cYtE1uHa6sDfG",
		"theme": "dark", "lang": "fr-FR", "visits": 1,
	}
}

var codec = sessionkit.BinaryCodec{}

func encodedValues(b *testing.B) map[string][]byte {
	enc := map[string][]byte{}
	for k, v := range sessionValues() {
		e, err := codec.Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		enc[k] = e
	}
	return enc
}

// BenchmarkStore measures one request's store work on a stored session:
// load it, change one of its 9 keys, commit.
//
//   - sessionkit: Load, decode the key, encode its new value, Commit a
//     delta of that one key (one SELECT, one UPDATE merging the key).
//   - scs: Find, gob-decode the session, change the key, gob-encode the
//     session, Commit it whole (one SELECT, one upsert), as scs does on
//     every request that changes its session.
//
// PostgreSQL runs with its default durability (fsync on) and SQLite with
// sqlitestore's (WAL, synchronous=NORMAL), on the local disk.
func BenchmarkStore(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		s, err := pgstore.Open(context.Background(), postgresURL(b))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchSQLStore(b, s)
	})
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchSQLStore(b, s)
	})
	b.Run("scs-pgxstore", func(b *testing.B) {
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, postgresURL(b))
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		if _, err = pool.Exec(ctx, scsSchema); err != nil {
			b.Fatal(err)
		}
		store := pgxstore.NewWithCleanupInterval(pool, 0)
		benchSCS(b, store)
	})
}

func benchSQLStore(b *testing.B, s sessionkit.Store) {
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleTimeout: 30 * time.Minute, IdleDeadline: now.Add(30 * time.Minute), Deadline: now.Add(24 * time.Hour)}
	values := encodedValues(b)
	size := 0
	for k, v := range values {
		size += len(k) + len(v)
	}
	tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta, Values: values})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rec, found, err := s.Load(ctx, tok)
		if err != nil || !found {
			b.Fatalf("Load: %v, %v", found, err)
		}
		v, err := codec.Decode(rec.Values["visits"])
		if err != nil {
			b.Fatal(err)
		}
		e, _ := codec.Encode(v.(int) + 1)
		d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "visits", Value: e}}, IdleDeadline: time.Now().Add(30 * time.Minute)}
		if _, err := s.Commit(ctx, tok, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "session-bytes") // after b.Loop, which clears metrics
}

// scsSchema is the table scs's pgxstore needs.
const scsSchema = `CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
	CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`

func benchSCS(b *testing.B, store *pgxstore.PostgresStore) {
	var gc scs.GobCodec
	deadline := time.Now().Add(24 * time.Hour)
	enc, err := gc.Encode(deadline, sessionValues())
	if err != nil {
		b.Fatal(err)
	}
	token := fmt.Sprintf("scs-%d", time.Now().UnixNano())
	if err := store.Commit(token, enc, deadline); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		data, found, err := store.Find(token)
		if err != nil || !found {
			b.Fatalf("Find: %v, %v", found, err)
		}
		dl, values, err := gc.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		values["visits"] = values["visits"].(int) + 1
		data, err = gc.Encode(dl, values)
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Commit(token, data, dl); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(enc)), "session-bytes")
}

// BenchmarkPostgresFloor measures what one statement costs on the
// benchmarks' server, the floor under every PostgreSQL store: a round trip
// that writes nothing (SELECT 1), a durable commit of a one-row UPDATE
// (its WAL flush: fsync and synchronous_commit on), and the same commit
// with a NOTIFY, as pgstore's near cache adds to every write.
func BenchmarkPostgresFloor(b *testing.B) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, postgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS bench_floor (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO bench_floor VALUES (1, 0) ON CONFLICT DO NOTHING"); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, sql string }{
		{"roundtrip", "SELECT 1"},
		{"commit", "UPDATE bench_floor SET n = n + 1 WHERE id = 1"},
		{"commit-notify", "WITH u AS (UPDATE bench_floor SET n = n + 1 WHERE id = 1 RETURNING n) SELECT pg_notify('bench_floor', n::text) FROM u"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := pool.Exec(ctx, c.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPostgresPaired runs, in every iteration, one request through
// each PostgreSQL contender of BenchmarkRequest and the two bare
// statements of BenchmarkPostgresFloor, in a rotating order, and reports
// the median of each and their ratios. The disk's sync time swings by
// 2x from minute to minute on a shared machine; side by side in one
// iteration every contender meets the same disk.
func BenchmarkPostgresPaired(b *testing.B) {
	ctx := context.Background()
	url := postgresURL(b)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, scsSchema+"; CREATE TABLE IF NOT EXISTS bench_floor (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO bench_floor VALUES (1, 0) ON CONFLICT DO NOTHING"); err != nil {
		b.Fatal(err)
	}
	plain, err := pgstore.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	near, err := pgstore.New(ctx, pgstore.Config{URL: url, NearCache: &pgstore.NearCache{}})
	if err != nil {
		b.Fatal(err)
	}
	defer near.Close()
	request := func(t target) func() {
		return func() {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", t.cookie)
			w := httptest.NewRecorder()
			t.h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	statement := func(sql string) func() {
		return func() {
			if _, err := pool.Exec(ctx, sql); err != nil {
				b.Fatal(err)
			}
		}
	}
	contenders := []struct {
		name string
		do   func()
	}{
		{"sessionkit-postgres", request(sessionkitTarget(b, plain, readWrite))},
		{"sessionkit-postgres-nearcache", request(sessionkitTarget(b, near, readWrite))},
		{"scs-postgres", request(scsTarget(b, pgxstore.NewWithCleanupInterval(pool, 0)))},
		{"commit", statement("UPDATE bench_floor SET n = n + 1 WHERE id = 1")},
		{"roundtrip", statement("SELECT 1")},
		{"commit-notify", statement("WITH u AS (UPDATE bench_floor SET n = n + 1 WHERE id = 1 RETURNING n) SELECT pg_notify('bench_floor', n::text) FROM u")},
		{"sessionkit-commit", storeCommit(b, plain)},
	}
	took := make([][]time.Duration, len(contenders))
	i := 0
	for b.Loop() {
		for j := range contenders {
			c := (i + j) % len(contenders)
			start := time.Now()
			contenders[c].do()
			took[c] = append(took[c], time.Since(start))
		}
		i++
	}
	median := make([]float64, len(contenders))
	for c := range contenders {
		slices.Sort(took[c])
		median[c] = float64(took[c][len(took[c])/2].Nanoseconds())
		b.ReportMetric(median[c], contenders[c].name+"-ns")
	}
	b.ReportMetric(median[1]/median[2], "nearcache/scs")
	b.ReportMetric(median[0]/median[2], "plain/scs")
	b.ReportMetric(median[3]/median[2], "commit/scs")
	b.ReportMetric(median[5]/median[3], "notify/commit")
	b.ReportMetric(median[6]/median[3], "sessionkit-commit/commit")
	b.ReportMetric(0, "ns/op")
}

// storeCommit returns a function that commits one key of a stored
// session, as a writing request's commit does, with no load.
func storeCommit(b *testing.B, s sessionkit.Store) func() {
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleTimeout: 30 * time.Minute, IdleDeadline: now.Add(30 * time.Minute), Deadline: now.Add(24 * time.Hour)}
	tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta, Values: encodedValues(b)})
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		e, _ := codec.Encode(time.Now().Unix())
		d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "last_seen", Value: e}}, IdleDeadline: time.Now().Add(30 * time.Minute)}
		if _, err := s.Commit(ctx, tok, d); err != nil {
			b.Fatal(err)
		}
	}
}
