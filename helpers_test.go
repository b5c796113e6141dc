package sessionkit_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/sessionkit/sessionkit/memstore"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func memstoreForFuzz(f *testing.F) *memstore.Store {
	s := memstore.New(memstore.Config{})
	f.Cleanup(func() { s.Close() })
	return s
}
