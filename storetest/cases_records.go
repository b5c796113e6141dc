package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// recordCases are the cases of the records: what a store keeps, changes and refuses to recreate.
var recordCases = []testCase{
	{
		name:        "RoundTrip",
		explanation: "Load returns what Create stored: every value's bytes, the principal, the deadlines (to the millisecond), the idle timeout, the remember-me flag and the generation.",
		f: func(t *testing.T, h *harness) {
			values := map[string][]byte{
				"string": enc("héllo"), "bytes": enc([]byte{0, 1, 2, 255}), "int": enc(-42),
				"uint64": enc(uint64(1 << 63)), "float": enc(3.25), "bool": enc(true),
				"time": enc(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)), "strings": enc([]string{"a", "", "c"}),
				"map": enc(map[string]any{"n": 1, "s": []any{"x", 2.5}}), "empty": {}, "nil": enc(nil),
			}
			m := meta(time.Hour)
			m.Principal, m.Persistent, m.Generation = "alice", true, 7
			tok := h.create(m, values)
			rec := h.mustLoad(tok)
			if !maps.EqualFunc(rec.Values, values, bytes.Equal) {
				t.Fatalf("values = %v, want %v", rec.Values, values)
			}
			g := rec.Meta
			if g.Principal != "alice" || !g.Persistent || g.Generation != 7 || g.IdleTimeout != time.Hour ||
				!sameTime(g.Created, m.Created) || !sameTime(g.IdleDeadline, m.IdleDeadline) || !sameTime(g.Deadline, m.Deadline) {
				t.Fatalf("meta = %+v, want %+v", g, m)
			}
			if dec(t, rec.Values["map"]).(map[string]any)["n"] != 1 {
				t.Fatal("decoded map lost its value")
			}
		},
	},
	{
		name:        "NotFound",
		explanation: "A token that names no session loads with found=false and a nil error, and every write to it returns ErrNotFound without creating it.",
		f: func(t *testing.T, h *harness) {
			tok := h.mint()
			h.mustNotFind(tok, "for a token never created")
			h.checkWritesNotFound(tok, "a token never created")
		},
	},
	{
		name:        "CommitDelta",
		explanation: "Commit applies only its delta: set keys change, deleted keys go, other keys stay; it moves the idle deadline; a non-nil Meta replaces the metadata.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1), "b": enc(2), "c": enc(3)})
			dl := time.Now().Add(2 * time.Hour)
			tok = h.commit(tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "a", Value: enc(10)}, {Key: "d", Value: enc(4)}}, Deleted: []string{"b"}, IdleDeadline: dl})
			rec := h.mustLoad(tok)
			want := map[string][]byte{"a": enc(10), "c": enc(3), "d": enc(4)}
			if !maps.EqualFunc(rec.Values, want, bytes.Equal) {
				t.Fatalf("values = %v, want %v", rec.Values, want)
			}
			if !sameTime(rec.IdleDeadline, dl) {
				t.Fatalf("idle deadline = %v, want %v", rec.IdleDeadline, dl)
			}
			m := rec.Meta
			m.Principal, m.Generation = "bob", 3
			tok = h.commit(tok, sessionkit.Delta{Meta: &m, IdleDeadline: dl})
			if rec := h.mustLoad(tok); rec.Principal != "bob" || rec.Generation != 3 || len(rec.Values) != 3 {
				t.Fatalf("after a Meta commit: %+v", rec)
			}
		},
	},
	{
		name:        "Touch",
		explanation: "Touch moves the idle deadline and changes nothing else.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			dl := time.Now().Add(3 * time.Hour)
			tok, err := h.s.Touch(h.ctx, tok, dl)
			if err != nil {
				t.Fatalf("Touch: %v", err)
			}
			rec := h.mustLoad(tok)
			if !sameTime(rec.IdleDeadline, dl) || !bytes.Equal(rec.Values["a"], enc(1)) {
				t.Fatalf("after Touch: %+v", rec)
			}
		},
	},
	{
		name:        "ConcurrentCommits",
		explanation: "Commits to different keys of one session, made concurrently, all survive: a store merges deltas instead of writing whole sessions.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"seed": enc(0)})
			const writers, rounds = 4, 10
			var wg sync.WaitGroup
			errs := make(chan error, writers*rounds)
			for w := range writers {
				wg.Go(func() {
					for r := range rounds {
						d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: fmt.Sprintf("k%d-%d", w, r), Value: enc(r)}}, IdleDeadline: time.Now().Add(time.Hour)}
						if _, err := h.s.Commit(h.ctx, tok, d); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Commit: %v", err)
			}
			rec := h.mustLoad(tok)
			if len(rec.Values) != writers*rounds+1 {
				t.Fatalf("%d keys survived, want %d", len(rec.Values), writers*rounds+1)
			}
		},
	},
	{
		name:        "ConcurrentUpdates",
		explanation: "50 concurrent Updates appending to one key give 50 items: Update is an atomic read-modify-write (compare-and-set with retries, or a lock).",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"other": enc("x")})
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					_, err := h.s.Update(h.ctx, tok, "cart", time.Now().Add(time.Hour), func(old []byte, ok bool) ([]byte, error) {
						var items []string
						if ok {
							v, err := sessionkit.BinaryCodec{}.Decode(old)
							if err != nil {
								return nil, err
							}
							items = v.([]string)
						}
						return enc(append(items, fmt.Sprint(i))), nil
					})
					if err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Update: %v", err)
			}
			rec := h.mustLoad(tok)
			items := dec(t, rec.Values["cart"]).([]string)
			slices.Sort(items)
			if len(slices.Compact(items)) != n {
				t.Fatalf("cart has %d distinct items, want %d", len(items), n)
			}
			if !bytes.Equal(rec.Values["other"], enc("x")) {
				t.Fatal("Update changed another key")
			}
		},
	},
	{
		name:        "UpdateDelete",
		explanation: "An Update whose function returns nil deletes the key; an Update whose function fails writes nothing and returns that error.",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1), "b": enc(2)})
			tok, err := h.s.Update(h.ctx, tok, "a", time.Now().Add(time.Hour), func([]byte, bool) ([]byte, error) { return nil, nil })
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			boom := errors.New("boom")
			_, err = h.s.Update(h.ctx, tok, "b", time.Now().Add(time.Hour), func([]byte, bool) ([]byte, error) { return nil, boom })
			if !errors.Is(err, boom) {
				t.Fatalf("Update with a failing function: %v, want its error", err)
			}
			rec := h.mustLoad(tok)
			if _, ok := rec.Values["a"]; ok || !bytes.Equal(rec.Values["b"], enc(2)) {
				t.Fatalf("values = %v", rec.Values)
			}
		},
	},
	{
		name:        "DestroyedNotRecreated",
		explanation: "After Delete, the session is gone, and a late Commit, Touch, Update or Renew returns ErrNotFound without recreating it (a commit racing a logout).",
		f: func(t *testing.T, h *harness) {
			tok := h.create(meta(time.Hour), map[string][]byte{"a": enc(1)})
			if err := h.s.Delete(h.ctx, tok); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			h.mustNotFind(tok, "after Delete")
			h.checkWritesNotFound(tok, "a deleted session")
			if err := h.s.Delete(h.ctx, tok); err != nil {
				t.Fatalf("Delete of a missing session: %v, want nil", err)
			}
		},
	},
}
