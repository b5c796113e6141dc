package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessionkit/internal/sqlcore"
	"github.com/sessionkit/sessionkit/internal/sqlcore/sqlcoretest"
	"github.com/sessionkit/sessionkit/sqlitestore"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSQLite(t *testing.T) {
	sqlcoretest.Run(t, func(t *testing.T) func(sqlcore.Options) (*sqlcore.Store, error) {
		path := filepath.Join(t.TempDir(), "sessions.db")
		return func(opts sqlcore.Options) (*sqlcore.Store, error) {
			return sqlitestore.New(context.Background(), sqlitestore.Config{Path: path, Options: opts})
		}
	})
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "open.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, path := range []string{"", ":memory:", "file:a.db", "a.db?mode=ro", "a.db#x"} {
		if s, err := sqlitestore.Open(ctx, path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}
