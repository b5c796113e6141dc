package memstore

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	var s *Store
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		// Sweeps often, for the case of expiry events.
		s = New(Config{CleanupInterval: 20 * time.Millisecond})
		t.Cleanup(func() { s.Close() })
		return s
	}, storetest.AtRest(func() ([]byte, error) { return s.dump(), nil }))
}

// dump returns the keys and values the store holds, as bytes.
func (s *Store) dump() []byte {
	var b bytes.Buffer
	for sh := range s.table.Shards() {
		for k, e := range sh.All() {
			b.Write(k[:])
			for name, v := range e.All {
				b.WriteString(name)
				b.Write(v)
			}
		}
	}
	return b.Bytes()
}

func TestCloseIdempotent(t *testing.T) {
	s := New(Config{})
	s.Close()
	s.Close()
}

func TestSweeperRemovesExpired(t *testing.T) {
	s := New(Config{CleanupInterval: 10 * time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleDeadline: now.Add(20 * time.Millisecond), Deadline: now.Add(time.Hour)}
	for range 10 {
		if _, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta, Values: map[string][]byte{"a": {1}}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Sessions != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d expired sessions still held after 5 s", s.Stats().Sessions)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats(); st.Bytes != 0 {
		t.Fatalf("bytes = %d after sweeping everything", st.Bytes)
	}
}

// TestEvictsAnonymousFirst floods a bounded store with anonymous sessions:
// every logged-in session must survive.
func TestEvictsAnonymousFirst(t *testing.T) {
	const max = 640
	s := New(Config{MaxSessions: max})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
	var users []sessionkit.Token
	for i := range max / 4 {
		m := meta
		m.Principal = fmt.Sprint("user", i)
		tok, _ := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: m})
		users = append(users, tok)
	}
	for range 20 * max {
		s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta})
	}
	if n := s.Stats().Sessions; n > max {
		t.Fatalf("holds %d sessions, bound %d", n, max)
	}
	for _, tok := range users {
		if _, found, _ := s.Load(ctx, tok); !found {
			t.Fatal("a logged-in session was evicted while anonymous ones remained")
		}
	}
}

func TestStatsBytes(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
	tok, _ := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: meta, Values: map[string][]byte{"ab": {1, 2, 3}}})
	if st := s.Stats(); st.Sessions != 1 || st.Bytes != 5 {
		t.Fatalf("stats = %+v, want 1 session of 5 bytes", st)
	}
	s.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "c", Value: []byte{1}}}, IdleDeadline: now.Add(time.Hour)})
	if st := s.Stats(); st.Bytes != 7 {
		t.Fatalf("stats = %+v after a commit, want 7 bytes", st)
	}
	s.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "ab", Value: []byte{9}}}, Deleted: []string{"c", "zz"}, IdleDeadline: now.Add(time.Hour)})
	if st := s.Stats(); st.Bytes != 3 {
		t.Fatalf("stats = %+v after an overwrite and a delete, want 3 bytes", st)
	}
	s.Delete(ctx, tok)
	if st := s.Stats(); st.Sessions != 0 || st.Bytes != 0 {
		t.Fatalf("stats = %+v after delete", st)
	}
}
