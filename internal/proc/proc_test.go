package proc

import "testing"

// TestFreePortNeverRepeats: the ports picked for one child's listeners
// differ, though each was released before the next was picked.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d returned twice", p)
		}
		seen[p] = true
	}
}

// TestFreePortBelowEphemeral: a port FreePort gives is outside the
// kernel's ephemeral range, so an outgoing connection cannot take it
// before the child listens (a node's "address already in use" in CI).
func TestFreePortBelowEphemeral(t *testing.T) {
	// Without room below them (a machine whose ephemeral ports start
	// low), FreePort takes what port 0 gives: any port will do.
	lo, hi := belowEphemeral()
	if lo >= hi {
		lo, hi = 1, 65536
	}
	for range 50 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < lo || p >= hi {
			t.Fatalf("port %d outside [%d, %d)", p, lo, hi)
		}
	}
}

// TestFreePortReservedAcrossProcesses: a port given here is locked
// against other processes picking with FreePort. A second open file
// description of the lock stands for the other process: flock locks
// belong to the open file, so it is refused as another process would be.
func TestFreePortReservedAcrossProcesses(t *testing.T) {
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if reserve(p) {
		t.Fatalf("port %d reserved again while this process holds it", p)
	}
}
