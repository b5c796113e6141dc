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
	sqlcoretest.Run(t, func(t *testing.T) func(*testing.T, sqlcore.Options) *sqlcore.Store {
		path := filepath.Join(t.TempDir(), "sessions.db")
		return func(t *testing.T, cfg sqlcore.Options) *sqlcore.Store {
			s, err := sqlitestore.New(context.Background(), sqlitestore.Config{
				Path:    path,
				Options: cfg,
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
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
