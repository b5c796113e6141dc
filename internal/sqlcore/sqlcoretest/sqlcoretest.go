// Package sqlcoretest holds the tests that every SQL dialect of sessionkit
// passes: the storetest conformance suite and what is particular to the
// SQL engine (concurrent migrations, the janitor, keys JSON could treat
// specially, bad keys).
package sqlcoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlcore"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/storetest"
)

// Opener opens a store on a fresh, empty database; the function it returns
// opens another store on that same database, with cfg.
type Opener func(t *testing.T) (open func(opts sqlcore.Options) (*sqlcore.Store, error))

// Run runs the tests every dialect passes.
func Run(t *testing.T, opener Opener) {
	// newDB(t) opens stores on a fresh database, closed when t ends.
	newDB := func(t *testing.T) func(t *testing.T, opts sqlcore.Options) *sqlcore.Store {
		open := opener(t)
		return func(t *testing.T, opts sqlcore.Options) *sqlcore.Store {
			s, err := open(opts)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	t.Run("Conformance", func(t *testing.T) {
		var last *sqlcore.Store
		storetest.Run(t, func(t *testing.T) sessionkit.Store {
			// The janitor runs often, for the case of expiry events.
			last = newDB(t)(t, sqlcore.Options{CleanupInterval: 50 * time.Millisecond})
			return last
		}, storetest.AtRest(func() ([]byte, error) { return dump(context.Background(), last) }))
	})

	t.Run("ConcurrentOpen", func(t *testing.T) {
		open := newDB(t)
		stores := make([]*sqlcore.Store, 6)
		var wg sync.WaitGroup
		for i := range stores {
			wg.Go(func() { stores[i] = open(t, sqlcore.Options{}) })
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		vs, err := Migrations(context.Background(), stores[0])
		if err != nil || !slices.Equal(vs, []int{1, 2}) {
			t.Fatalf("migrations = %v, %v; want [1 2], each once", vs, err)
		}
	})

	t.Run("Janitor", func(t *testing.T) {
		s := newDB(t)(t, sqlcore.Options{CleanupInterval: 20 * time.Millisecond, CleanupBatch: 3})
		ctx := context.Background()
		now := time.Now()
		live := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
		short := live
		short.IdleDeadline = now.Add(50 * time.Millisecond)
		for i := range 10 {
			m := short
			if i == 0 {
				m = live
			}
			if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := rows(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d rows left, want the 1 live one", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s.Close() // idempotent
	})

	t.Run("MatchesMemstore", func(t *testing.T) {
		s := newDB(t)(t, sqlcore.Options{})
		ref := memstore.New(memstore.Config{})
		defer ref.Close()
		differential(t, s, ref)
	})

	t.Run("BadKey", func(t *testing.T) {
		s := newDB(t)(t, sqlcore.Options{})
		ctx := context.Background()
		now := time.Now()
		m := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
		if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m, Values: map[string][]byte{"a\x00": {1}}}); !errors.Is(err, sqlcore.ErrKey) {
			t.Fatalf("Create with a NUL key: %v, want ErrKey", err)
		}
		tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m, Values: map[string][]byte{`"quoted" \ key é`: {1}}})
		if err != nil {
			t.Fatal(err)
		}
		d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "\xff", Value: []byte{1}}}, IdleDeadline: m.IdleDeadline}
		if _, err := s.Commit(ctx, tok, d); !errors.Is(err, sqlcore.ErrKey) {
			t.Fatalf("Commit with an invalid UTF-8 key: %v, want ErrKey", err)
		}
		tok, err = s.Update(ctx, tok, `"quoted" \ key é`, m.IdleDeadline, func(old []byte, ok bool) ([]byte, error) {
			if !ok || len(old) != 1 || old[0] != 1 {
				return nil, fmt.Errorf("old = %v, %v", old, ok)
			}
			return []byte{2}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rec, _, err := s.Load(ctx, tok)
		if err != nil || string(rec.Values[`"quoted" \ key é`]) != "\x02" {
			t.Fatalf("Load = %v, %v", rec.Values, err)
		}
	})
}

// differential applies the same random writes to s and to the memory store
// and checks after each that both hold the same session. The keys include
// what JSON paths, json_patch and jsonb could treat specially.
func differential(t *testing.T, s, ref sessionkit.Store) {
	keys := []string{"a", "a.b", "$", "$.a", `"q"`, `\`, "é", "日本", "\u2028", "[0]", "null", " ", "", "{}", "a/b", "%s"}
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}
	tok := sessionkit.NewToken()
	for _, st := range []sessionkit.Store{s, ref} {
		if _, err := st.Create(ctx, tok, sessionkit.Record{Meta: meta, Values: map[string][]byte{"a": {1}}}); err != nil {
			t.Fatal(err)
		}
	}
	value := func() []byte {
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	for op := range 300 {
		dl := now.Add(time.Hour + time.Duration(op)*time.Millisecond)
		var apply func(st sessionkit.Store) error
		switch rng.IntN(3) {
		case 0, 1:
			set := map[string][]byte{}
			for range rng.IntN(4) {
				set[keys[rng.IntN(len(keys))]] = value()
			}
			d := sessionkit.Delta{IdleDeadline: dl}
			for _, k := range slices.Sorted(maps.Keys(set)) {
				d.Set = append(d.Set, sessionkit.Entry{Key: k, Value: set[k]})
			}
			for range rng.IntN(3) {
				if k := keys[rng.IntN(len(keys))]; set[k] == nil {
					d.Deleted = append(d.Deleted, k)
				}
			}
			apply = func(st sessionkit.Store) error { _, err := st.Commit(ctx, tok, d); return err }
		case 2:
			k, v, del := keys[rng.IntN(len(keys))], value(), rng.IntN(3) == 0
			apply = func(st sessionkit.Store) error {
				_, err := st.Update(ctx, tok, k, dl, func(old []byte, ok bool) ([]byte, error) {
					if del {
						return nil, nil
					}
					return append(append([]byte{}, old...), v...), nil
				})
				return err
			}
		}
		for _, st := range []sessionkit.Store{s, ref} {
			if err := apply(st); err != nil {
				t.Fatalf("op %d: %v", op, err)
			}
		}
		got, _, err1 := s.Load(ctx, tok)
		want, _, err2 := ref.Load(ctx, tok)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !maps.EqualFunc(got.Values, want.Values, bytes.Equal) || !got.IdleDeadline.Equal(want.IdleDeadline.Truncate(time.Millisecond)) {
			t.Fatalf("op %d: store holds %q (idle %v), memstore %q (idle %v)", op, got.Values, got.IdleDeadline, want.Values, want.IdleDeadline)
		}
	}
}

// dump returns everything the store keeps about sessions at rest.
func dump(ctx context.Context, s *sqlcore.Store) ([]byte, error) {
	var buf bytes.Buffer
	err := sqlcore.DB(s).Query(ctx, "SELECT id, principal, data FROM "+sqlcore.Table, nil, func(scan func(...any) error) error {
		var id []byte
		var principal, data string
		if err := scan(&id, &principal, &data); err != nil {
			return err
		}
		buf.Write(id)
		buf.WriteString(principal)
		buf.WriteString(data)
		return nil
	})
	return buf.Bytes(), err
}

// Migrations returns the versions recorded in the migrations table.
func Migrations(ctx context.Context, s *sqlcore.Store) ([]int, error) {
	var vs []int
	err := sqlcore.DB(s).Query(ctx, "SELECT version FROM sessionkit_migrations ORDER BY version", nil, func(scan func(...any) error) error {
		var v int
		err := scan(&v)
		vs = append(vs, v)
		return err
	})
	return vs, err
}

// rows returns the number of rows in the sessions table, expired ones
// included.
func rows(ctx context.Context, s *sqlcore.Store) (int, error) {
	var n int
	_, err := sqlcore.DB(s).QueryRow(ctx, "SELECT count(*) FROM "+sqlcore.Table, nil, &n)
	return n, err
}
