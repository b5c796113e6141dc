package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
)

// TestWriteAfterRestart: once Redis is back after a restart, the first
// writes succeed. Connections that were idle when the old server died
// must not each fail one write with EOF: the client notices a closed
// connection when it closes, not on the next command sent over it.
func TestWriteAfterRestart(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), redisstore.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create := func() error {
		_, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{Meta: sessionkit.Meta{
			Created: time.Now(), IdleTimeout: time.Hour,
			IdleDeadline: time.Now().Add(time.Hour), Deadline: time.Now().Add(time.Hour),
		}})
		return err
	}
	// Writes on many keys use every pipelined connection.
	for range 64 {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
	srv.Kill()
	// While it is down, requests keep coming and fail.
	for range 20 {
		if create() == nil {
			t.Fatal("a write succeeded with Redis down")
		}
		s.Load(ctx, "x")
	}
	srv.Restart()
	// The first read may fail while the client reconnects; once one
	// succeeds, the server is back.
	if err := redistest.WaitFor(10*time.Second, func() error {
		_, _, err := s.Load(ctx, "x")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		if err := create(); err != nil {
			t.Fatalf("write %d after the restart: %v", i, err)
		}
	}
}
