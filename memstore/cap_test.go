package memstore

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sesstable"
	"github.com/sessionkit/sessionkit/internal/sesstable/sesstabletest"
)

func counts(s *Store) sesstabletest.Counts {
	return func() (int, uint64) { st := s.Stats(); return st.Sessions, st.Evicted }
}

// TestCapEvictsNothingBelow fills the default cap exactly (it used to be
// split over the shards, and a full shard evicted: 1,000,000 creates left
// 997,245 sessions).
func TestCapEvictsNothingBelow(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	sesstabletest.Fill(t, s, sesstable.DefaultMax, counts(s))
}

// TestFloodKeepsLoggedIn floods a bounded store with anonymous sessions.
func TestFloodKeepsLoggedIn(t *testing.T) {
	sesstabletest.Flood(t, func() (sessionkit.Store, sesstabletest.Counts) {
		s := New(Config{MaxSessions: sesstabletest.FloodCap})
		t.Cleanup(func() { s.Close() })
		return s, counts(s)
	})
}
