package sessionkit_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/webtest"
)

// loadSet loads tok, sets k to v and commits, returning the token to hold.
func loadSet(t *testing.T, m *sessionkit.Manager, tok, k, v string) string {
	t.Helper()
	s, err := m.Load(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(k, v); err != nil {
		t.Fatal(err)
	}
	next, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// get loads tok and returns k's value.
func get(t *testing.T, m *sessionkit.Manager, tok, k string) string {
	t.Helper()
	s, err := m.Load(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := sessionkit.Get[string](s, k)
	return v
}

// A session loaded and committed outside any request, as a WebSocket loop
// or a background job does, follows the middleware's rules.
func TestLoadAndCommitOutsideHTTP(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sessionkit.Config{}, webtest.Mux())
	m := f.m

	tok := loadSet(t, m, "", "a", "1")
	if tok == "" {
		t.Fatal("Commit of a new session with a value returned no token")
	}
	if got := loadSet(t, m, tok, "b", "2"); got != tok {
		t.Fatalf("a commit that did not renew returned %q, want Load's token", got)
	}
	if a, b := get(t, m, tok, "a"), get(t, m, tok, "b"); a != "1" || b != "2" {
		t.Fatalf("after two commits: a=%q b=%q", a, b)
	}

	t.Run("GarbageTokenStartsFresh", func(t *testing.T) {
		for _, bad := range []string{"garbage", tok + "x", "\x00"} {
			s, err := m.Load(ctx, bad)
			if err != nil {
				t.Fatalf("Load(%q): %v", bad, err)
			}
			if keys := s.Keys(); len(keys) != 0 {
				t.Fatalf("Load(%q) has keys %q", bad, keys)
			}
			if next, err := s.Commit(ctx); err != nil || next != "" {
				t.Fatalf("an empty session's Commit: %q, %v; want no token", next, err)
			}
		}
	})

	t.Run("ConcurrentCommitsMergeAsDeltas", func(t *testing.T) {
		x, _ := m.Load(ctx, tok)
		y, _ := m.Load(ctx, tok)
		x.Set("x", "1")
		y.Set("y", "1")
		if _, err := x.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := y.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if get(t, m, tok, "x") != "1" || get(t, m, tok, "y") != "1" {
			t.Fatal("one of two concurrent commits lost the other's key")
		}
	})

	t.Run("CommitOnceThenErrCommitted", func(t *testing.T) {
		s, _ := m.Load(ctx, tok)
		if _, err := s.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Set("late", "1"); !errors.Is(err, sessionkit.ErrCommitted) {
			t.Fatalf("Set after Commit: %v, want ErrCommitted", err)
		}
		if _, err := s.Commit(ctx); !errors.Is(err, sessionkit.ErrCommitted) {
			t.Fatalf("a second Commit: %v, want ErrCommitted", err)
		}
	})

	t.Run("RenewLosesTheOtherCommit", func(t *testing.T) {
		winner, _ := m.Load(ctx, tok)
		loser, _ := m.Load(ctx, tok)
		if err := winner.SetPrincipal("ada"); err != nil {
			t.Fatal(err)
		}
		next, err := winner.Commit(ctx)
		if err != nil || next == "" || next == tok {
			t.Fatalf("a login's Commit returned %q, %v; want a new token", next, err)
		}
		loser.Set("lost", "1")
		if _, err := loser.Commit(ctx); !errors.Is(err, sessionkit.ErrConflict) {
			t.Fatalf("a commit on the renewed session's old token: %v, want ErrConflict", err)
		}
		if get(t, m, next, "lost") != "" || get(t, m, next, "a") != "1" {
			t.Fatal("the renewed session lost its data or gained the loser's")
		}
		if s, _ := m.Load(ctx, tok); len(s.Keys()) != 0 {
			t.Fatal("the old token still loads the session")
		}
		tok = next
	})

	t.Run("NoResurrection", func(t *testing.T) {
		stale, _ := m.Load(ctx, tok)
		ender, _ := m.Load(ctx, tok)
		if err := ender.Destroy(); err != nil {
			t.Fatal(err)
		}
		if next, err := ender.Commit(ctx); err != nil || next != "" {
			t.Fatalf("Commit after Destroy: %q, %v; want \"\" (drop the token)", next, err)
		}
		stale.Set("zombie", "1")
		if _, err := stale.Commit(ctx); !errors.Is(err, sessionkit.ErrConflict) {
			t.Fatalf("a commit to a destroyed session: %v, want ErrConflict", err)
		}
		if s, _ := m.Load(ctx, tok); len(s.Keys()) != 0 {
			t.Fatal("a destroyed session came back")
		}
	})

	t.Run("CommitErrorReturnsTheHeldToken", func(t *testing.T) {
		held := loadSet(t, m, "", "user", "alice")
		s, _ := m.Load(ctx, held)
		s.Set("n", "1")
		f.store.fail.Store(true)
		next, err := s.Commit(ctx)
		f.store.fail.Store(false)
		if !errors.Is(err, sessionkit.ErrUnavailable) || next != held {
			t.Fatalf("Commit during an outage: %q, %v; want the held token and ErrUnavailable", next, err)
		}
		if get(t, m, next, "user") != "alice" {
			t.Fatal("the token Commit returned with its error lost the session")
		}
	})

	t.Run("TouchOfAnEndedSessionDropsTheToken", func(t *testing.T) {
		// Every read-only commit touches: the share of the idle timeout
		// that must pass first is a few nanoseconds.
		f := newFixture(t, sessionkit.Config{TouchAfter: 1e-12}, webtest.Mux())
		tok := loadSet(t, f.m, "", "a", "1")
		stale, _ := f.m.Load(ctx, tok)
		ender, _ := f.m.Load(ctx, tok)
		ender.Destroy()
		ender.Commit(ctx)
		for start := time.Now(); time.Since(start) < 10*time.Microsecond; {
			// until the touch is due (30 min x 1e-12 = 1.8 us)
		}
		if next, err := stale.Commit(ctx); err != nil || next != "" {
			t.Fatalf("a read-only Commit of a session destroyed meanwhile: %q, %v; want \"\"", next, err)
		}
	})

	t.Run("StoreOutageIsAnError", func(t *testing.T) {
		stored := loadSet(t, m, "", "k", "v")
		f.store.fail.Store(true)
		defer f.store.fail.Store(false)
		if _, err := m.Load(ctx, stored); !errors.Is(err, sessionkit.ErrUnavailable) {
			t.Fatalf("Load during an outage: %v, want ErrUnavailable", err)
		}
	})
}

// A request's session is committed by the middleware; Commit refuses it.
func TestCommitRefusesARequestSession(t *testing.T) {
	var err error
	f := newFixture(t, sessionkit.Config{}, func(w http.ResponseWriter, r *http.Request) {
		_, err = sessionkit.FromContext(r.Context()).Commit(r.Context())
	})
	f.do("GET", "/", "")
	if err == nil {
		t.Fatal("Commit of a request's session succeeded")
	}
}
