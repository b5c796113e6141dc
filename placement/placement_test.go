package placement_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessionkit/placement"
	"github.com/sessionkit/sessionkit/ring"
)

func TestMinter(t *testing.T) {
	r, err := ring.New(ring.Config{}, []ring.Member{{Name: "n1", Weight: 1}, {Name: "n2", Weight: 1}, {Name: "n3", Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, self := range []string{"n1", "n2", "n3"} {
		m := placement.NewMinter(self, func() *ring.Ring { return r })
		for range 100 {
			tok, err := m.Mint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := placement.Owner(r, tok); got != self {
				t.Fatalf("minted for %s a token owned by %s", self, got)
			}
		}
	}
	if _, err := placement.NewMinter("n9", func() *ring.Ring { return r }).Mint(context.Background()); err == nil {
		t.Fatal("minted for a node not on the ring")
	}
}
