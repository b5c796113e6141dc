package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// principalCases are the cases of a principal's sessions and the generation counters.
var principalCases = []testCase{
	{
		name:        "Principals",
		explanation: "A store implementing Principals lists the live sessions of a principal, follows a principal change made by a Meta commit, and RevokeAll deletes them all and no other.",
		f: func(t *testing.T, h *harness) {
			p, ok := h.s.(sessionkit.Principals)
			if !ok {
				t.Skip("the store does not implement sessionkit.Principals")
			}
			m := meta(time.Hour)
			m.Principal = "alice"
			var alice []sessionkit.Token
			for range 3 {
				alice = append(alice, h.create(m, map[string][]byte{"a": enc(1)}))
			}
			m.Principal = "bob"
			bob := h.create(m, nil)
			anon := h.create(meta(time.Hour), nil)
			rec := h.mustLoad(anon)
			rec.Principal = "alice"
			anon = h.commit(anon, sessionkit.Delta{Meta: &rec.Meta, IdleDeadline: time.Now().Add(time.Hour)})
			alice = append(alice, anon)
			infos, err := p.Sessions(h.ctx, "alice")
			if err != nil || len(infos) != 4 {
				t.Fatalf("Sessions(alice) = %d sessions, %v; want 4", len(infos), err)
			}
			for _, in := range infos {
				if in.Principal != "alice" || len(in.ID) != 64 {
					t.Fatalf("info %+v", in)
				}
			}
			n, err := p.RevokeAll(h.ctx, "alice")
			if err != nil || (n != 4 && n != -1) {
				t.Fatalf("RevokeAll = %d, %v; want 4", n, err)
			}
			for _, tok := range alice {
				h.mustNotFind(tok, "after RevokeAll")
			}
			h.mustLoad(bob)
			if infos, _ := p.Sessions(h.ctx, "alice"); len(infos) != 0 {
				t.Fatalf("Sessions(alice) after RevokeAll = %d", len(infos))
			}
		},
	},
	{
		name:        "Generations",
		explanation: "A store implementing Generations starts every principal at 0 and Bump increments it.",
		f: func(t *testing.T, h *harness) {
			g, ok := h.s.(sessionkit.Generations)
			if !ok {
				t.Skip("the store does not implement sessionkit.Generations")
			}
			p := "gen-" + string(sessionkit.NewToken())[:8]
			if n, err := g.Generation(h.ctx, p); n != 0 || err != nil {
				t.Fatalf("Generation = %d, %v", n, err)
			}
			for want := uint64(1); want <= 2; want++ {
				if n, err := g.Bump(h.ctx, p); n != want || err != nil {
					t.Fatalf("Bump = %d, %v; want %d", n, err, want)
				}
			}
			if n, _ := g.Generation(h.ctx, p); n != 2 {
				t.Fatalf("Generation after two bumps = %d", n)
			}
		},
	},
	{
		name:        "MultiGenerations",
		explanation: "A store implementing MultiGenerations reads several counters at once, in the order asked, each as Generation reads it.",
		f: func(t *testing.T, h *harness) {
			g, ok := h.s.(sessionkit.MultiGenerations)
			if !ok {
				t.Skip("the store does not implement sessionkit.MultiGenerations")
			}
			id := string(sessionkit.NewToken())[:8]
			once, twice, never := "multi-once-"+id, "multi-twice-"+id, "multi-never-"+id
			for _, p := range []string{once, twice, twice} {
				if _, err := g.Bump(h.ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct {
				names []string
				want  []uint64
			}{
				{[]string{once, never, twice}, []uint64{1, 0, 2}},
				{[]string{twice, once}, []uint64{2, 1}},
				{[]string{once, once}, []uint64{1, 1}},
				{[]string{never}, []uint64{0}},
				{nil, []uint64{}},
			} {
				got, err := g.Generations(h.ctx, c.names...)
				if err != nil || !slices.Equal(got, c.want) {
					t.Fatalf("Generations(%q) = %v, %v; want %v", c.names, got, err, c.want)
				}
			}
			// Names a store may find hard to list; one it refuses to
			// bump is left out, but one it bumped must read back.
			for _, odd := range []string{"\xff\xfe", "a\x00b", `"\<>&'`, "ünïcödé ✓", "%_*"} {
				name := odd + id
				if _, err := g.Bump(h.ctx, name); err != nil {
					continue
				}
				got, err := g.Generations(h.ctx, name, never)
				if err != nil || !slices.Equal(got, []uint64{1, 0}) {
					t.Fatalf("Generations(%q, %q) = %v, %v; want [1 0]", name, never, got, err)
				}
			}
		},
	},
	{
		name:        "ExpiringGenerations",
		explanation: "A store implementing ExpiringGenerations keeps a counter of BumpUntil until its latest deadline and then forgets it (Generation is 0 again); a counter Bump has bumped is kept for good.",
		f: func(t *testing.T, h *harness) {
			g, ok := h.s.(sessionkit.ExpiringGenerations)
			if !ok {
				t.Skip("the store does not implement sessionkit.ExpiringGenerations")
			}
			name := func() string { return "sid-" + string(sessionkit.NewToken())[:8] }
			// Each call below must reach the store before the deadline
			// soon, which is known only of a call that returned before
			// it: when one did not (a loaded machine), the round is
			// played again with fresh counters and a wider window.
			var short, long, kept, keptAfter string
			var soon time.Time
			for window := 300 * time.Millisecond; ; window *= 4 {
				if window > time.Minute {
					t.Fatal("no round of calls returned before its deadline")
				}
				short, long, kept, keptAfter = name(), name(), name(), name()
				soon = time.Now().Add(window)
				// A store may round the deadline down to the millisecond.
				before := func() bool { return time.Now().Before(soon.Add(-10 * time.Millisecond)) }
				if n, err := g.BumpUntil(h.ctx, short, soon); n != 1 || err != nil {
					t.Fatalf("BumpUntil = %d, %v; want 1", n, err)
				}
				// long: a later deadline wins over an earlier one.
				g.BumpUntil(h.ctx, long, time.Now().Add(time.Hour))
				if n, err := g.BumpUntil(h.ctx, long, soon); n != 2 || err != nil {
					t.Fatalf("BumpUntil again = %d, %v; want 2", n, err)
				}
				// kept: Bump keeps a counter for good, whatever BumpUntil says.
				g.Bump(h.ctx, kept)
				g.BumpUntil(h.ctx, kept, soon)
				g.BumpUntil(h.ctx, keptAfter, soon)
				g.Bump(h.ctx, keptAfter)
				n, err := g.Generation(h.ctx, short)
				if !before() {
					continue
				}
				if n != 1 || err != nil {
					t.Fatalf("Generation before the deadline = %d, %v; want 1", n, err)
				}
				break
			}
			deadline := soon.Add(10 * time.Second)
			for {
				n, err := g.Generation(h.ctx, short)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Generation = %d 10 s after the deadline; want it forgotten (0)", n)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n, _ := g.Generation(h.ctx, long); n != 2 {
				t.Fatalf("Generation of a counter with a later deadline = %d after the earlier one; want 2", n)
			}
			if n, _ := g.Generation(h.ctx, kept); n != 2 {
				t.Fatalf("Generation of a bumped counter = %d after a BumpUntil deadline; want 2, kept for good", n)
			}
			if n, _ := g.Generation(h.ctx, keptAfter); n != 2 {
				t.Fatalf("Generation of a counter bumped after a BumpUntil = %d past its deadline; want 2, kept for good", n)
			}
			if mg, ok := g.(sessionkit.MultiGenerations); ok {
				// Read together, each counter reads as on its own.
				if got, err := mg.Generations(h.ctx, short, kept, long); err != nil || !slices.Equal(got, []uint64{0, 2, 2}) {
					t.Fatalf("Generations(forgotten, kept, later deadline) = %v, %v; want [0 2 2]", got, err)
				}
				// A pair, which a store may read another way.
				if got, err := mg.Generations(h.ctx, short, kept); err != nil || !slices.Equal(got, []uint64{0, 2}) {
					t.Fatalf("Generations(forgotten, kept) = %v, %v; want [0 2]", got, err)
				}
			}
			if n, err := g.BumpUntil(h.ctx, short, time.Now().Add(time.Hour)); n != 1 || err != nil {
				t.Fatalf("BumpUntil of a forgotten counter = %d, %v; want 1", n, err)
			}
		},
	},
}
