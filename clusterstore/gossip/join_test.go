package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionkit/sessionkit/internal/proc"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).probe"),
	)
}

var testKey = bytes.Repeat([]byte("k"), 32)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

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
	_, err = Join(ctx, Config{
		Self: Member{Name: "r1", Role: RoleRouter}, Bind: fmt.Sprintf("127.0.0.1:%d", port),
		Join: []string{silent.Addr().String()}, Key: testKey, Logger: quiet,
	}, func([]Member) {})
	// Had it contacted the silent address, the error would be its
	// timeout, not the context's.
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Join with an ended context: %v, want context.Canceled", err)
	}
}

// TestRouterSeesNodes: a router that joins a node's gossip on a free port
// sees the node, with what it gossips of itself, and sees its drain.
func TestRouterSeesNodes(t *testing.T) {
	node, err := Join(context.Background(), Config{
		Self: Member{Name: "n1", Role: RoleNode, Data: "127.0.0.1:1", HTTP: "http://127.0.0.1:2", Weight: 1, Boot: 1},
		Bind: "127.0.0.1:0", Key: testKey, Logger: quiet,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Leave(time.Second)
	routable := make(chan []string, 16)
	router, err := Join(context.Background(), Config{
		Self: Member{Name: "r1", Role: RoleRouter}, Bind: "127.0.0.1:0",
		Join: []string{node.Addr()}, Key: testKey, Logger: quiet,
	}, func(members []Member) {
		var names []string
		for _, m := range members {
			if m.Routable() {
				names = append(names, m.Name)
			}
		}
		routable <- names
	})
	if err != nil {
		t.Fatal(err)
	}
	defer router.Leave(time.Second)
	await := func(want []string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case got := <-routable:
				if slices.Equal(got, want) {
					return
				}
			case <-deadline:
				t.Fatalf("the router never saw routable members %v", want)
			}
		}
	}
	await([]string{"n1"})
	if got := router.Nodes()["n1"]; got.Dead || got.HTTP != "http://127.0.0.1:2" {
		t.Fatalf("the router holds %+v of n1", got)
	}
	if _, ok := router.Nodes()["r1"]; ok {
		t.Fatal("a router counts itself among the storing nodes")
	}
	if err := node.Update(func(m *Member) { m.Draining = true }); err != nil {
		t.Fatal(err)
	}
	await(nil)
	if got := node.Self(); got.Epoch != 1 || !got.Draining {
		t.Fatalf("after Update the node describes itself as %+v", got)
	}
}

func TestNewer(t *testing.T) {
	at := func(boot int64, epoch uint64, dead bool) State {
		return State{Member: Member{Name: "n1", Boot: boot, Epoch: epoch}, Dead: dead}
	}
	for _, c := range []struct {
		a, b State
		want bool
	}{
		{at(2, 0, false), at(1, 5, true), true}, // a later boot wins
		{at(1, 2, false), at(1, 1, true), true}, // then a higher epoch
		{at(1, 1, true), at(1, 1, false), true}, // then dead over alive
		{at(1, 1, false), at(1, 1, false), false},
		{at(1, 1, false), at(1, 1, true), false},
	} {
		if got := c.a.Newer(c.b); got != c.want {
			t.Errorf("%+v newer than %+v: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
