package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionkit/sessionkit/internal/sqlcore"
)

// Store is a sessionkit.Store in PostgreSQL. It also implements
// sessionkit.Principals, sessionkit.Generations,
// sessionkit.MultiGenerations and sessionkit.ExpiringGenerations. Its
// methods are safe for concurrent use, by many goroutines and many
// processes sharing the database.
type Store = sqlcore.Store

// ErrKey reports a session key the store cannot hold: one that is not
// valid UTF-8 or that contains a NUL byte. Nothing was written.
var ErrKey = sqlcore.ErrKey

// Options are the settings pgstore shares with sqlitestore: the janitor,
// Update's attempts and the logger; the zero value is the default.
type Options = sqlcore.Options

// Config configures a Store. Its zero value but URL is the default.
type Config struct {
	// URL names the database: a pgx connection string, such as
	// "postgres://user:password@host:5432/db?sslmode=verify-full".
	// pool_max_conns and the other pgxpool settings are honoured, and
	// search_path picks the schema; behind PgBouncer in transaction mode
	// add default_query_exec_mode=exec, as pgx needs. Required.
	URL string

	// MaxConns is the size of the connection pool. Default: the URL's
	// pool_max_conns, else pgxpool's default (the larger of 4 and the
	// number of CPUs).
	MaxConns int

	// NearCache, when not nil, keeps sessions in the process as well:
	// a request whose session is cached loads it with no round trip,
	// and a writing request pays one (its commit). Other processes'
	// writes reach the cache through LISTEN/NOTIFY, on one connection
	// per store besides the pool; see the package documentation for
	// what it costs the server. Default nil: every load reads the
	// database.
	NearCache *NearCache

	Options
}

// New opens a Store in the PostgreSQL database cfg.URL names. It creates
// or upgrades the schema and starts the janitor; Close stops them. It
// fails when the database cannot be reached before ctx ends.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		// pgx would fall back to the PG* variables and the local socket.
		return nil, errors.New("pgstore: Config.URL is required")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = int32(min(cfg.MaxConns, 1<<30))
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	p := &postgres{pgQuerier: pgQuerier{pool}, pool: pool, owned: true}
	nc := cfg.NearCache
	if nc == nil {
		return sqlcore.Open(ctx, p, cfg.Options)
	}
	every, lag := nc.Heartbeat, nc.MaxLag
	if every <= 0 {
		every = 100 * time.Millisecond
		if lag > 0 {
			every = min(every, lag/3)
		}
	}
	if lag <= 0 {
		lag = 3 * every
	}
	if every <= 0 || lag <= every {
		pool.Close()
		return nil, fmt.Errorf("pgstore: NearCache.MaxLag (%v) must be longer than NearCache.Heartbeat (%v), which must be positive", lag, every)
	}
	p.near = sqlcore.NewCache(sqlcore.CacheConfig{MaxBytes: nc.MaxBytes, TTL: nc.TTL, MaxLag: lag})
	s, err := sqlcore.Open(ctx, p, cfg.Options) // creates the triggers too
	if err != nil {
		return nil, err
	}
	lcfg := pcfg.ConnConfig.Copy()
	lcfg.RuntimeParams["application_name"] = "sessionkit-listener"
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	lctx, cancel := context.WithCancel(context.Background())
	p.listener = &listener{cfg: lcfg, cache: p.near, every: every, lag: lag, logf: logger.Warn, cancel: cancel, done: make(chan struct{})}
	go p.listener.run(lctx)
	return s, nil
}

// NewFromPool returns a Store in the database of a pgx pool the application
// already has, for its own queries too. It creates or upgrades the schema
// and starts the janitor, as New does; Close stops the janitor and leaves
// the pool open.
func NewFromPool(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	return sqlcore.Open(ctx, &postgres{pgQuerier: pgQuerier{pool}, pool: pool}, opts)
}

// Open opens a Store in the database url names (see Config.URL), with the
// other settings at their defaults.
func Open(ctx context.Context, url string) (*Store, error) {
	return New(ctx, Config{URL: url})
}

// postgres is the PostgreSQL dialect.
type postgres struct {
	pgQuerier
	pool     *pgxpool.Pool
	owned    bool           // made by New: Close closes it
	near     *sqlcore.Cache // nil without Config.NearCache
	listener *listener      // nil without Config.NearCache
}

// NearCache gives the Store its near cache.
func (p *postgres) NearCache() *sqlcore.Cache { return p.near }

func (*postgres) Name() string { return "pgstore" }

// The merge is shallow: || replaces whole members, - removes them.
func (*postgres) DataExpr() string { return "(data || $4::jsonb) - $5::text[]" }

func (*postgres) DeletedArg(keys []string) (any, error) {
	if keys == nil {
		keys = []string{} // NULL would make the whole expression NULL
	}
	return keys, nil
}

func (*postgres) ValueExpr() string { return "data ->> $3::text" }

func (*postgres) InNames() string { return "principal = ANY($1::text[])" }

// Busy is false: PostgreSQL waits for row locks without a timeout unless
// lock_timeout is set, and such a timeout is an ordinary failure.
func (*postgres) Busy(error) bool { return false }

func (p *postgres) Close() {
	if p.listener != nil {
		p.listener.stop()
	}
	if p.owned {
		p.pool.Close()
	}
}

// migrationLock is the key of the advisory lock that serializes migrations.
const migrationLock = 0x5e5510_4b17

func (p *postgres) MigrationTx(ctx context.Context, fn func(sqlcore.Querier) error) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		if err := fn(pgQuerier{tx}); err != nil || p.near == nil {
			return err
		}
		return installTriggers(ctx, tx)
	})
}

// pgQuerier runs statements on a pgx pool or transaction.
type pgQuerier struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (p pgQuerier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (p pgQuerier) QueryRow(ctx context.Context, sql string, args []any, dest ...any) (bool, error) {
	return sqlcore.Found(p.q.QueryRow(ctx, sql, args...).Scan(dest...), pgx.ErrNoRows)
}

func (p pgQuerier) WriteRow(ctx context.Context, sql string, args []any, dest ...any) (bool, error) {
	return p.QueryRow(ctx, sql, args, dest...)
}

func (p pgQuerier) WriteRows(ctx context.Context, sql string, args []any, row func(scan func(...any) error) error) error {
	return p.Query(ctx, sql, args, row)
}

func (p pgQuerier) Query(ctx context.Context, sql string, args []any, row func(scan func(...any) error) error) error {
	rows, err := p.q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return sqlcore.EachRow(rows, row)
}
