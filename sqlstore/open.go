package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sessionkit/sessionkit/internal/redact"
)

// Open opens a Store from a URL: "postgres://..." or "postgresql://..."
// opens PostgreSQL with OpenPostgres, "sqlite:PATH" opens the SQLite file
// PATH with OpenSQLite (for example "sqlite:sessions.db" or
// "sqlite:/var/lib/shop/sessions.db").
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return OpenPostgres(ctx, url, cfg)
	case strings.HasPrefix(url, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(url, "sqlite:"), cfg)
	default:
		return nil, fmt.Errorf("sqlstore: URL %q: want postgres://... or sqlite:PATH", redact.URL(url))
	}
}
