package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
		d := sessionkit.Delta{Set: map[string][]byte{"visits": e}, IdleDeadline: time.Now().Add(30 * time.Minute)}
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
