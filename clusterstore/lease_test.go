package clusterstore

import (
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/proc"
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

// TestRefutedDeathWarmsAgain: a node cut off from the two others declared
// them dead and, alone in its view, warmed in no time: there was no one
// to pull from. When the cut healed, the others refuted their deaths and
// came back into its view while it was still warm, so it held its keys'
// leases with their backup and served its copies from before the cut,
// which the others had taken over and written meanwhile (TestPartitions,
// isolate, one backup, an 11.9 s cut). A node that sees another refute
// its death warms again; a restarted node holds nothing to pull.
func TestRefutedDeathWarmsAgain(t *testing.T) {
	n1 := startNodes(t, 1, 1, testKey)[0]
	boot := time.Now().UnixNano()
	n1.learn(vector{"n2": entry("n2", boot, 0, true), "n3": entry("n3", boot, 0, true)})
	n1.startWarming() // as after its own death refuted, alone in its view
	if err := proc.WaitFor(10*time.Second, func() error {
		if !n1.Warm() {
			return errors.New("n1 is not warm")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n1.learn(vector{"n3": entry("n3", boot+1, 0, false)})
	if !n1.Warm() {
		t.Fatal("a node that saw another restart went cold")
	}
	n1.learn(vector{"n2": entry("n2", boot, 1, false)})
	if n1.Warm() {
		t.Fatal("a node that saw another refute its death stayed warm: it never pulled that node's copies")
	}
}
