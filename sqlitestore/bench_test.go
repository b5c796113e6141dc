package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessionkit/sqlitestore"
)

// BenchmarkGenerations reads a principal's generation alone, and with a
// session's revocation counter as the cookie store does on every request.
func BenchmarkGenerations(b *testing.B) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "g.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Bump(ctx, "u1"); err != nil {
		b.Fatal(err)
	}
	b.Run("one", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Generation(ctx, "u1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("two", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Generations(ctx, "u1", "sessionkit/sid/0123456789abcdef0123456789abcdef"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
