package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A nemesis does harm to a running cluster and returns what heals it.
// a, b and c are its three nodes, in an order that changes from round to
// round, so that every node takes every part.
type nemesis struct {
	name   string
	inject func(c *partitionCluster, a, b, c3 string) (heal func())
}

// nemeses are TestPartitions's faults, in the order they run.
var nemeses = []nemesis{
	{"kill", func(c *partitionCluster, a, _, _ string) func() {
		c.nodes[a].Kill() // SIGKILL: no goodbye to the gossip
		return func() { c.startNode(a) }
	}},
	{"pause", func(c *partitionCluster, a, _, _ string) func() {
		// Stopped longer than failure detection takes: the others
		// declare it dead while it still believes it holds its leases.
		p := c.nodes[a]
		p.Signal(syscall.SIGSTOP)
		return func() { p.Signal(syscall.SIGCONT) }
	}},
	{"isolate", func(c *partitionCluster, a, b, c3 string) func() {
		// Cut from every other host, both ways: packets vanish.
		return c.block(a, c.addrs(b, c3, "router"), "drop")
	}},
	{"split", func(c *partitionCluster, a, b, c3 string) func() {
		// A minority of one node and a majority of two; the router
		// still reaches them all. Connections are reset, not left
		// hanging.
		return c.block(a, c.addrs(b, c3), "reset")
	}},
	{"one-way", func(c *partitionCluster, a, b, _ string) func() {
		// a hears b; b does not hear a.
		return c.nft(b, fmt.Sprintf(`table inet nemesis {
	chain in { type filter hook input priority 0; policy accept; ip saddr %s drop; }
}`, c.addr[a]))
	}},
	{"bridge", func(c *partitionCluster, _, b, c3 string) func() {
		// a sees b and c; b and c do not see each other.
		return c.block(b, c.addrs(c3), "drop")
	}},
	{"router-cut", func(c *partitionCluster, a, _, _ string) func() {
		// The router loses a; the nodes still see each other.
		return c.block("router", c.addrs(a), "reset")
	}},
	{"flap", func(c *partitionCluster, a, b, _ string) func() {
		// The link between a and b goes down and up every 300 ms.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(300 * time.Millisecond)
			defer tick.Stop()
			for {
				heal := c.block(a, c.addrs(b), "drop")
				select {
				case <-stop:
					heal()
					return
				case <-tick.C:
				}
				heal()
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
		return func() {
			close(stop)
			wg.Wait()
		}
	}},
	{"loss", func(c *partitionCluster, a, b, _ string) func() {
		// 30% of the packets between a and b are lost, either way.
		return c.nft(a, fmt.Sprintf(`table inet nemesis {
	chain in { type filter hook input priority 0; policy accept; ip saddr %[1]s numgen random mod 100 < 30 drop; }
	chain out { type filter hook output priority 0; policy accept; ip daddr %[1]s numgen random mod 100 < 30 drop; }
}`, c.addr[b]))
	}},
}

// addrs returns the hosts' addresses as an nftables set.
func (c *partitionCluster) addrs(hosts ...string) string {
	var a []string
	for _, h := range hosts {
		a = append(a, c.addr[h])
	}
	return "{ " + strings.Join(a, ", ") + " }"
}

// block cuts a host from the addresses, both ways, inside the host's
// namespace: "drop" makes packets vanish; "reset" answers TCP with a
// reset (and drops the rest).
func (c *partitionCluster) block(host, set, how string) func() {
	rules := func(match string) string {
		if how == "reset" {
			return match + " meta l4proto tcp reject with tcp reset; " + match + " drop"
		}
		return match + " drop"
	}
	return c.nft(host, fmt.Sprintf(`table inet nemesis {
	chain in { type filter hook input priority 0; policy accept; %s; }
	chain out { type filter hook output priority 0; policy accept; %s; }
}`, rules("ip saddr "+set), rules("ip daddr "+set)))
}

// nft loads an nftables ruleset into a host's namespace, and returns
// what deletes it. It may be called from any goroutine: a failure is
// reported with t.Error, and the round ends at its next check.
func (c *partitionCluster) nft(host, ruleset string) func() {
	if err := c.nftRun(host, ruleset, "-f", "-"); err != nil {
		c.t.Error(err)
	}
	return func() {
		if err := c.nftRun(host, "", "delete", "table", "inet", "nemesis"); err != nil {
			c.t.Error(err)
		}
	}
}

func (c *partitionCluster) nftRun(host, stdin string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.n.ip, append([]string{"netns", "exec", c.n.prefix + host, c.nftBin}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft %s in %s: %v: %s\n%s", strings.Join(args, " "), host, err, out, stdin)
	}
	return nil
}
