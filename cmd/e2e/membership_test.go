package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// The cluster store through changes of membership under load, with real
// processes: a node added, one stopped with SIGTERM, one killed and
// restarted, one paused. Every test checks every shopper's history.

// waitWarm waits until the node says it holds the newest copy of every
// session it owns, and the router routes to it and to the given number
// of healthy nodes in all.
func (c *storeCluster) waitWarm(name string, routed int) {
	c.t.Helper()
	if err := proc.WaitFor(30*time.Second, func() error {
		var st struct{ Warm bool }
		if err := getJSON(c.nodes[name].admin+"/cluster", c.nodes[name].token, &st); err != nil {
			return err
		}
		if !st.Warm {
			return fmt.Errorf("%s is warming", name)
		}
		var members []struct {
			Name    string
			Healthy bool
		}
		if err := getJSON(c.rAdmin+"/members", c.rToken, &members); err != nil {
			return err
		}
		healthy := 0
		for _, m := range members {
			if m.Healthy {
				healthy++
			} else if m.Name == name {
				return fmt.Errorf("the router holds %s down", name)
			}
		}
		if healthy != routed {
			return fmt.Errorf("the router routes to %d nodes, want %d", healthy, routed)
		}
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
}

// servedBy returns the node that serves each shopper's session now.
func (c *storeCluster) servedBy(shoppers []*logged) []string {
	out := make([]string, len(shoppers))
	for i, l := range shoppers {
		_, out[i] = c.read(l)
	}
	return out
}

func TestClusterScaleOutUnderLoad(t *testing.T) {
	c := startStoreCluster(t, 3, "1")
	shoppers := c.logShoppers(300)
	before := c.servedBy(shoppers)
	ld := c.startLoad(shoppers, 8)
	ld.waitOps(t, 200)
	c.addNode("n4")
	c.waitWarm("n4", 4)
	ld.waitOps(t, 600)
	failed := ld.end()
	after := c.servedBy(shoppers)
	moved := 0
	for i := range before {
		if before[i] != after[i] {
			moved++
			if after[i] != "n4" {
				t.Errorf("%s moved from %s to %s, not to the new node", shoppers[i].user, before[i], after[i])
			}
		}
	}
	share := float64(moved) / float64(len(shoppers))
	t.Logf("a 4th node joined 3 under load: %d failed requests, %.2f of sessions changed owner", failed, share)
	if failed > 0 {
		c.dumpLogs()
		t.Fatalf("%d requests failed, want none:\n%s", failed, strings.Join(failures(shoppers), "\n"))
	}
	if share < 0.12 || share > 0.4 {
		t.Fatalf("%.2f of sessions changed owner, want about 1/4", share)
	}
	c.checkHistories(shoppers)
}

func TestClusterSIGTERMUnderLoad(t *testing.T) {
	c := startStoreCluster(t, 4, "1")
	shoppers := c.logShoppers(300)
	ld := c.startLoad(shoppers, 8)
	ld.waitOps(t, 200)
	stopping := time.Now()
	if err := c.nodes["n2"].proc.Stop(20 * time.Second); err != nil {
		t.Fatalf("n2 did not stop on SIGTERM: %v", err)
	}
	t.Logf("n2 drained and stopped in %v", time.Since(stopping).Round(time.Millisecond))
	delete(c.nodes, "n2")
	ld.waitOps(t, 600)
	failed := ld.end()
	t.Logf("SIGTERM of one of 4 nodes under load: %d failed requests", failed)
	if failed > 0 {
		c.dumpLogs()
		t.Fatalf("%d requests failed, want none:\n%s", failed, strings.Join(failures(shoppers), "\n"))
	}
	c.checkHistories(shoppers)
}

// TestClusterKillWriteRestart: the successors take the writes of a
// killed node's sessions; the node restarted serves the newest data.
func TestClusterKillWriteRestart(t *testing.T) {
	c := startStoreCluster(t, 3, "1")
	shoppers := c.logShoppers(200)
	c.nodes["n2"].proc.Kill()
	var failed atomic.Int64
	parallelLogged(shoppers, func(l *logged) {
		if !c.add(l) {
			failed.Add(1)
		}
	})
	c.startNode("n2")
	c.waitWarm("n2", 3)
	t.Logf("writes while n2 was down: %d failed", failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d writes failed while a node was down, want none:\n%s", failed.Load(), strings.Join(failures(shoppers), "\n"))
	}
	served := 0
	for _, l := range shoppers {
		if _, node := c.read(l); node == "n2" {
			served++
		}
	}
	t.Logf("n2 restarted serves %d of %d sessions", served, len(shoppers))
	if served == 0 {
		t.Fatal("the restarted node serves no session")
	}
	c.checkHistories(shoppers)
}

// TestClusterPauseServesNothingStale: a node paused (SIGSTOP) for longer
// than failure detection while its sessions are written elsewhere serves
// nothing stale when it resumes, and every copy converges.
func TestClusterPauseServesNothingStale(t *testing.T) {
	c := startStoreCluster(t, 3, "1")
	shoppers := c.logShoppers(200)
	n2 := c.nodes["n2"].proc
	if err := n2.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	var failed atomic.Int64
	parallelLogged(shoppers, func(l *logged) {
		if !c.add(l) {
			failed.Add(1)
		}
	})
	// The pause outlasts failure detection: the others declare n2 dead.
	if err := proc.WaitFor(20*time.Second, func() error {
		var st struct{ Members []string }
		if err := getJSON(c.nodes["n1"].admin+"/cluster", c.nodes["n1"].token, &st); err != nil {
			return err
		}
		if slices.Contains(st.Members, "n2") {
			return fmt.Errorf("n1 still sees n2")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := n2.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Logf("n2 paused for %v while its sessions were written elsewhere: %d of %d writes failed", time.Since(paused).Round(time.Millisecond), failed.Load(), len(shoppers))
	// Read at once and while the node comes back.
	for range 3 {
		parallelLogged(shoppers, func(l *logged) { c.read(l) })
	}
	c.waitWarm("n2", 3)
	if err := proc.WaitFor(20*time.Second, func() error {
		return c.converged(shoppers)
	}); err != nil {
		c.dumpLogs()
		t.Fatal(err)
	}
	c.checkHistories(shoppers)
}

// converged checks that every session has its two copies, of one version.
func (c *storeCluster) converged(shoppers []*logged) error {
	versions := map[string][]uint64{}
	for _, node := range c.nodes {
		var st struct {
			Sessions []struct {
				ID      string
				Version uint64
			}
		}
		if err := getJSON(node.admin+"/cluster/sessions", node.token, &st); err != nil {
			return err
		}
		for _, s := range st.Sessions {
			versions[s.ID] = append(versions[s.ID], s.Version)
		}
	}
	for _, l := range shoppers {
		id := sessionID(l.cookie)
		v := versions[id]
		if len(v) != 2 || v[0] != v[1] {
			return fmt.Errorf("%s: copies at versions %v, want two of one version", l.user, v)
		}
	}
	return nil
}

// parallelLogged runs fn over the shoppers with a few workers.
func parallelLogged(shoppers []*logged, fn func(*logged)) {
	plain := make([]*shopper, len(shoppers))
	by := map[*shopper]*logged{}
	for i, l := range shoppers {
		plain[i] = l.shopper
		by[l.shopper] = l
	}
	parallel(plain, func(sh *shopper) { fn(by[sh]) })
}
