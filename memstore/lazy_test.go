package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/storetest"
)

// expiring is a Store whose LoadLazy, for a session due to expire within
// a second, waits until it has: the race of a load at the session's
// expiry, where Load finds it and LoadLazy just after does not, made
// certain.
type expiring struct{ *Store }

func (e expiring) LoadLazy(ctx context.Context, t sessionkit.Token) (sessionkit.Meta, sessionkit.Values, bool, error) {
	rec, found, err := e.Load(ctx, t)
	if err != nil {
		return sessionkit.Meta{}, nil, false, err
	}
	if found && time.Until(rec.IdleDeadline) < time.Second {
		for !rec.Expired(time.Now()) {
			time.Sleep(time.Until(rec.IdleDeadline) + time.Millisecond)
		}
	}
	return e.Store.LoadLazy(ctx, t)
}

func (e expiring) LazyStore() sessionkit.Store { return e }

// The suite accepts a session that Load finds and LoadLazy, a moment
// later, finds expired.
func TestConformanceLazyAtExpiry(t *testing.T) {
	var s *Store
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		s = New(Config{CleanupInterval: 20 * time.Millisecond})
		t.Cleanup(func() { s.Close() })
		return expiring{s}
	}, storetest.AtRest(func() ([]byte, error) { return s.dump(), nil }))
}
