//go:build !race

// The race detector allocates: these run in the pass without it.

package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// TestAllocs: a Load of a session without values allocates nothing (one
// with values allocates the map it returns); a Create, Touch or Commit
// allocates the session's new record alone, whether or not the store is
// full and evicts.
func TestAllocs(t *testing.T) {
	for _, full := range []bool{false, true} {
		s := New(Config{MaxSessions: 1000})
		ctx := context.Background()
		later := time.Now().Add(time.Hour)
		rec := sessionkit.Record{Meta: sessionkit.Meta{Created: time.Now(), IdleDeadline: later, Deadline: later}}
		toks := make([]sessionkit.Token, 1000)
		for i := range toks {
			toks[i] = sessionkit.NewToken()
		}
		if full {
			for range 1000 {
				s.Create(ctx, sessionkit.NewToken(), rec)
			}
		}
		tok := toks[0]
		s.Create(ctx, tok, rec)
		d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "a", Value: []byte{1}}}, IdleDeadline: later}
		i := 0
		for _, c := range []struct {
			name string
			want float64
			f    func()
		}{
			{"Load", 0, func() { s.Load(ctx, tok) }},
			{"Touch", 1, func() { s.Touch(ctx, tok, later) }},
			{"Commit", 1, func() { s.Commit(ctx, tok, d) }},
			{"Create", 1, func() { i++; s.Create(ctx, toks[i%len(toks)], rec) }},
		} {
			if got := testing.AllocsPerRun(100, c.f); got > c.want {
				t.Errorf("full=%v: %s allocates %v times, want %v", full, c.name, got, c.want)
			}
		}
		s.Close()
	}
}
