package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// benchStore returns a store holding n sessions, and their tokens.
func benchStore(b *testing.B, cfg Config, n int) (*Store, []sessionkit.Token) {
	s := New(cfg)
	b.Cleanup(func() { s.Close() })
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
	toks := make([]sessionkit.Token, n)
	for i := range toks {
		toks[i] = sessionkit.NewToken()
		if _, err := s.Create(context.Background(), toks[i], sessionkit.Record{Meta: meta, Values: map[string][]byte{"a": {1}}}); err != nil {
			b.Fatal(err)
		}
	}
	return s, toks
}

func BenchmarkLoad(b *testing.B) {
	s, toks := benchStore(b, Config{}, 1<<16)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok, _ := s.Load(ctx, toks[i&(1<<16-1)]); !ok {
				b.Fatal("not found")
			}
			i++
		}
	})
}

func BenchmarkTouch(b *testing.B) {
	s, toks := benchStore(b, Config{}, 1<<16)
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Touch(ctx, toks[i&(1<<16-1)], later); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkCreate creates sessions in a full store: each evicts one.
func BenchmarkCreate(b *testing.B) {
	for _, c := range []struct {
		name string
		max  int
	}{{"room", -1}, {"full", 1 << 16}} {
		b.Run(c.name, func(b *testing.B) {
			s, _ := benchStore(b, Config{MaxSessions: c.max}, 1<<16)
			ctx := context.Background()
			now := time.Now()
			rec := sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}
			toks := make([]sessionkit.Token, 1<<16)
			for i := range toks {
				toks[i] = sessionkit.NewToken()
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if c.max < 0 {
					s.Delete(ctx, toks[i&(1<<16-1)])
				}
				s.Create(ctx, toks[i&(1<<16-1)], rec)
				i++
			}
		})
	}
}

// BenchmarkCommit writes one key of a nine-key session.
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	values := map[string][]byte{}
	for _, k := range []string{"user_id", "name", "email", "role", "locale", "theme", "csrf", "cart", "last_seen"} {
		values[k] = []byte("twenty bytes of data")
	}
	s := New(Config{})
	defer s.Close()
	tok := sessionkit.NewToken()
	meta := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour), IdleTimeout: time.Hour}
	if _, err := s.Create(ctx, tok, sessionkit.Record{Meta: meta, Values: values}); err != nil {
		b.Fatal(err)
	}
	d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "last_seen", Value: []byte("8 bytes!")}}, IdleDeadline: now.Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Commit(ctx, tok, d); err != nil {
			b.Fatal(err)
		}
	}
}
