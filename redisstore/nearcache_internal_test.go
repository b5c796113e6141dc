package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
)

// TestNearCacheUpdateOnStaleEntry makes the cache's entry stale for
// certain (a write through the store's own tracking connection, which
// Redis does not report back to it) and checks that Update's function,
// run first on the stale value, is run again on the current one that the
// refused compare-and-set returned, without another read, and that the
// cache then holds no stale entry.
func TestNearCacheUpdateOnStaleEntry(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s, err := New(ctx, Config{URL: srv.URL(), NearCache: &NearCache{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)},
		Values: map[string][]byte{"n": []byte("1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := s.sessionKey(tok)
	if _, _, hit := s.near.get(key); !hit {
		t.Fatal("Create did not fill the cache")
	}
	dc := s.near.dc
	if err := dc.Do(ctx, dc.B().Hset().Key(key).FieldValue().FieldValue("n", "5").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if rec, _, _ := s.near.get(key); string(rec.Values["n"]) != "1" {
		t.Fatalf("the entry is not stale: n = %q", rec.Values["n"])
	}
	var saw []string
	if _, err := s.Update(ctx, tok, "n", time.Now().Add(time.Hour), func(old []byte, ok bool) ([]byte, error) {
		saw = append(saw, string(old))
		n, _ := strconv.Atoi(string(old))
		return []byte(strconv.Itoa(n + 1)), nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(saw) != 2 || saw[0] != "1" || saw[1] != "5" {
		t.Fatalf("the function saw %q, want the stale 1 then the current 5", saw)
	}
	rec, found, err := s.Load(ctx, tok)
	if err != nil || !found || string(rec.Values["n"]) != "6" {
		t.Fatalf("Load: %v %v, n = %q, want 6", found, err, rec.Values["n"])
	}
}
