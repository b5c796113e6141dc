package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionkit/sessionkit"
)

// OpenPostgres opens a Store in the PostgreSQL database that url names (a
// pgx connection string, such as
// "postgres://user:password@host:5432/db?sslmode=verify-full";
// pool_max_conns and the other pgxpool settings are honoured, and
// search_path picks the schema; behind PgBouncer in transaction mode add
// default_query_exec_mode=exec, as pgx needs). It creates or upgrades the schema and
// starts the janitor; Close stops them. It fails when the database cannot
// be reached.
func OpenPostgres(ctx context.Context, url string, cfg Config) (*Store, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = int32(min(cfg.MaxConns, 1<<30))
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	s, err := open(ctx, &postgres{pgQuerier{pool}, pool}, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, err)
	}
	return s, nil
}

// postgres is the PostgreSQL dialect.
type postgres struct {
	pgQuerier
	pool *pgxpool.Pool
}

func (*postgres) name() string { return "postgres" }

// The merge is shallow: || replaces whole members, - removes them.
func (*postgres) dataExpr() string { return "(data || $4::jsonb) - $5::text[]" }

func (*postgres) deletedArg(keys []string) (any, error) {
	if keys == nil {
		keys = []string{} // NULL would make the whole expression NULL
	}
	return keys, nil
}

func (*postgres) valueExpr() string { return "data ->> $3::text" }

// busy is false: PostgreSQL waits for row locks without a timeout unless
// lock_timeout is set, and such a timeout is an ordinary failure.
func (*postgres) busy(error) bool { return false }

func (p *postgres) close() { p.pool.Close() }

// migrationLock is the key of the advisory lock that serializes migrations.
const migrationLock = 0x5e5510_4b17

func (p *postgres) migrationTx(ctx context.Context, fn func(querier) error) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		return fn(pgQuerier{tx})
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

func (p pgQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (p pgQuerier) queryRow(ctx context.Context, sql string, args []any, dest ...any) (bool, error) {
	err := p.q.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (p pgQuerier) writeRow(ctx context.Context, sql string, args []any, dest ...any) (bool, error) {
	return p.queryRow(ctx, sql, args, dest...)
}

func (p pgQuerier) query(ctx context.Context, sql string, args []any, row func(scan func(...any) error) error) error {
	rows, err := p.q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
