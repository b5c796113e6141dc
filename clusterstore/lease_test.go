package clusterstore

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// TestAloneInOwnViewHoldsNoLease: a node cut off from the others declares
// them dead in time, and is then the only node of its own view, owning
// every key with no backup. It must not take itself for a majority: the
// others, which declared it dead, own its keys meanwhile. A node that
// drained before it died left, and no longer counts.
func TestAloneInOwnViewHoldsNoLease(t *testing.T) {
	n1 := startNodes(t, 1, 1, testKey)[0]
	h := sessionkit.NewToken().Hash()
	if owners, v := n1.owners(h); !n1.holds(v, owners) {
		t.Fatal("a node alone in a cluster of one holds no lease")
	}
	boot := time.Now().UnixNano()
	n1.learn(vector{"n2": entry("n2", boot, 0, true), "n3": entry("n3", boot, 0, true)})
	owners, v := n1.owners(h)
	if len(owners) != 1 || owners[0] != n1.cfg.Name {
		t.Fatalf("owners %v, want n1 alone", owners)
	}
	if n1.holds(v, owners) {
		t.Fatal("a node whose view holds the two others dead takes itself for a majority")
	}
	// The two others drained, then died: they left.
	for _, name := range []string{"n2", "n3"} {
		e := entry(name, boot, 1, true)
		e.Draining = true
		n1.learn(vector{name: e})
	}
	if owners, v := n1.owners(h); !n1.holds(v, owners) {
		t.Fatal("a node whose peers drained and left holds no lease")
	}
}
