package clusterstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// TestJoinGivesUpWithItsContext: a join whose context has ended contacts
// nobody and returns the context's error, leaving no goroutine behind
// (TestMain checks).
func TestJoinGivesUpWithItsContext(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Join(ctx, MembershipConfig{
		Self: Member{Name: "r1", Role: "router"}, Bind: fmt.Sprintf("127.0.0.1:%d", port),
		Join: []string{silent.Addr().String()}, Key: testKey, Logger: quiet,
	}, func([]Member) {})
	// Had it contacted the silent address, the error would be its
	// timeout, not the context's.
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Join with an ended context: %v, want context.Canceled", err)
	}
}
