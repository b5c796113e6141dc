package sqlcore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrations holds each dialect's schema changes, one file per version,
// named NNNN_what.sql, applied in order and never edited once released.
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the dialect's migrations in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrations, dir) // sorted by name
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("%s: migration file %s is not named NNNN_what.sql", dialect, e.Name())
		}
		if len(ms) > 0 && v != ms[len(ms)-1].version+1 {
			return nil, fmt.Errorf("%s: migration %s does not follow version %d", dialect, e.Name(), ms[len(ms)-1].version)
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}

// migrate brings the schema up to date, in one transaction that other
// processes migrating at the same time wait for.
func migrate(ctx context.Context, db Dialect) error {
	ms, err := loadMigrations(db.Name())
	if err != nil {
		return err
	}
	err = db.MigrationTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, "CREATE TABLE IF NOT EXISTS sessionkit_migrations (version integer PRIMARY KEY, applied_ms bigint NOT NULL)"); err != nil {
			return err
		}
		var current int64
		if _, err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM sessionkit_migrations", nil, &current); err != nil {
			return err
		}
		for _, m := range ms {
			if int64(m.version) <= current {
				continue
			}
			if _, err := q.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := q.Exec(ctx, "INSERT INTO sessionkit_migrations (version, applied_ms) VALUES ($1, $2)", m.version, time.Now().UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: migrate the schema: %w", db.Name(), err)
	}
	return nil
}
