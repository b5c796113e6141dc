package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// lifecycleCases are the cases of renewal and expiry.
var lifecycleCases = []testCase{
	{
		name:        "Renew",
		explanation: "Renew moves the session, data and metadata, to the new token; the old token names nothing afterwards, and a late write to it returns ErrNotFound without recreating it.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.Principal = "alice"
			old := h.create(m, map[string][]byte{"a": enc(1)})
			next, err := h.s.Renew(h.ctx, old, h.mint())
			if err != nil {
				t.Fatalf("Renew: %v", err)
			}
			if next == old {
				t.Fatal("Renew returned the old token")
			}
			rec := h.mustLoad(next)
			if !bytes.Equal(rec.Values["a"], enc(1)) || rec.Principal != "alice" {
				t.Fatalf("renewed session: %+v", rec)
			}
			h.mustNotFind(old, "under the old token after Renew")
			h.checkWritesNotFound(old, "a renewed token")
			h.mustLoad(next)
		},
	},
	{
		name:        "ConcurrentRenew",
		explanation: "Of concurrent Renews of one token, exactly one wins and moves the session; every other returns ErrNotFound (or ErrConflict), and its new token names nothing. Two renews that both succeed leave two copies of one session (a login submitted twice logs in twice); a loser that is told nothing drops the winner's session from the client.",
		f: func(t *testing.T, h *harness) {
			old := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			const n = 8
			next := make([]sessionkit.Token, n)
			for i := range next {
				next[i] = h.mint()
			}
			got := make([]sessionkit.Token, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					got[i], errs[i] = h.s.Renew(h.ctx, old, next[i])
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("renews %d and %d both won", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, sessionkit.ErrNotFound) && !errors.Is(err, sessionkit.ErrConflict):
					t.Fatalf("a losing Renew: %v, want ErrNotFound or ErrConflict", err)
				}
			}
			if winner < 0 {
				t.Fatal("no Renew won")
			}
			if rec := h.mustLoad(got[winner]); !bytes.Equal(rec.Values["a"], enc(1)) {
				t.Fatalf("the winner's session: %+v", rec)
			}
			h.mustNotFind(old, "under the old token after the renews")
			for i := range n {
				if i != winner {
					h.mustNotFind(next[i], "under a losing renew's new token")
				}
			}
		},
	},
	{
		name:        "RenewDeleted",
		explanation: "Renew of a session that was deleted returns ErrNotFound and stores nothing under either token: a renew racing a logout must not bring the session back.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.Principal = "alice"
			tok := h.create(m, map[string][]byte{"a": enc(1)})
			tok = h.commit(tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "b", Value: enc(2)}}, IdleDeadline: time.Now().Add(time.Hour)})
			if err := h.s.Delete(h.ctx, tok); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			next := h.mint()
			if _, err := h.s.Renew(h.ctx, tok, next); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("Renew of a deleted session: %v, want ErrNotFound", err)
			}
			h.mustNotFind(tok, "under the deleted token after Renew")
			h.mustNotFind(next, "under the new token of a deleted session")
			if p, ok := h.s.(sessionkit.Principals); ok {
				if infos, err := p.Sessions(h.ctx, "alice"); err == nil && len(infos) != 0 {
					t.Fatalf("Sessions(alice) after Delete and Renew = %d, want 0", len(infos))
				}
			}
		},
	},
	{
		name:        "IdleExpiry",
		explanation: "A session past its idle deadline loads as not found, at once, whether or not a sweeper has run; Touch before the deadline keeps it alive.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.IdleDeadline = time.Now().Add(200 * time.Millisecond)
			tok := h.create(m, map[string][]byte{"a": enc(1)})
			kept := h.create(m, map[string][]byte{"a": enc(1)})
			_, found := h.load(tok)
			if !found && time.Now().Before(m.IdleDeadline) {
				t.Fatal("session not found before its idle deadline")
			}
			kept, err := h.s.Touch(h.ctx, kept, time.Now().Add(time.Hour))
			if err != nil && time.Now().Before(m.IdleDeadline) {
				t.Fatalf("Touch: %v", err)
			}
			time.Sleep(time.Until(m.IdleDeadline) + 10*time.Millisecond)
			h.mustNotFind(tok, "past its idle deadline")
			h.checkWritesNotFound(tok, "an expired session")
			if err == nil {
				h.mustLoad(kept)
			}
		},
	},
	{
		name:        "AbsoluteExpiry",
		explanation: "A session past its absolute deadline loads as not found, however recently it was used.",
		f: func(t *testing.T, h *harness) {
			m := meta(time.Hour)
			m.Deadline = time.Now().Add(150 * time.Millisecond)
			tok := h.create(m, map[string][]byte{"a": enc(1)})
			time.Sleep(time.Until(m.Deadline) + 10*time.Millisecond)
			h.mustNotFind(tok, "past its absolute deadline")
		},
	},
	{
		name:        "ExpiryEvents",
		explanation: "A store implementing ExpiryNotifier reports each session its own expiry removes to every function registered, named by Token.ID of the session's token (the ID a Manager's Created event gave it) and with its principal; it does not report a session that was deleted or is still live as expired. Its sweeps must run often enough in the test for the report to come within the case's deadline.",
		f: func(t *testing.T, h *harness) {
			n, ok := h.s.(sessionkit.ExpiryNotifier)
			if !ok {
				t.Skip("the store does not implement sessionkit.ExpiryNotifier")
			}
			// Two registrations, as two Managers on one store make,
			// before the sessions are made: a store reports only what
			// expires after.
			var mu sync.Mutex
			var seen [2][]sessionkit.Expiry
			both := make(chan struct{})
			gone := h.mint() // its ID is known before the store can report it
			reported := func(i int) bool {
				return slices.ContainsFunc(seen[i], func(x sessionkit.Expiry) bool { return x.ID == gone.ID() })
			}
			for i := range seen {
				n.NotifyExpired(func(ctx context.Context, expired []sessionkit.Expiry) {
					mu.Lock()
					defer mu.Unlock()
					had := reported(0) && reported(1)
					seen[i] = append(seen[i], expired...)
					if !had && reported(0) && reported(1) {
						close(both)
					}
				})
			}
			m := meta(time.Hour)
			m.Principal = "alice"
			m.IdleDeadline = time.Now().Add(200 * time.Millisecond)
			if _, err := h.s.Create(h.ctx, gone, sessionkit.Record{Meta: m, Values: map[string][]byte{"a": enc(1)}}); err != nil {
				t.Fatalf("Create: %v", err)
			}
			m.IdleDeadline = m.Deadline
			deleted := h.create(m, nil)
			live := h.create(meta(time.Hour), nil)
			if err := h.s.Delete(h.ctx, deleted); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			select {
			case <-both:
			case <-h.ctx.Done():
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("no expiry of session %s reported to both functions before the deadline; seen %v", gone.ID(), seen)
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range seen {
				for _, x := range seen[i] {
					switch x.ID {
					case gone.ID():
						if x.Principal != "alice" && (x.Principal != "" || h.cfg.anonymous == "") {
							t.Errorf("expiry of %s with principal %q, want alice", x.ID, x.Principal)
						}
					case deleted.ID():
						t.Errorf("a deleted session reported as expired")
					case live.ID():
						t.Errorf("a live session reported as expired")
					}
				}
			}
			if h.cfg.anonymous != "" {
				t.Logf("expiry events may carry no principal: %s", h.cfg.anonymous)
			}
		},
	},
}
