package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// TestSentinelPartition cuts the Redis primary of a Sentinel group off the
// network while clients write sessions, lets Sentinel promote the replica,
// heals the partition, and counts the acknowledged writes the group lost,
// without WaitReplicas and with WaitReplicas=1.
//
// Every process is a host of its own (network namespaces on one bridge):
// the two redis-servers, three sentinels (quorum 2) and the clients. Two
// writers run side by side in the clients' namespace, the same test binary
// run again (see sentinelWriter): one with WaitReplicas=0, one with
// WaitReplicas=1, each creating sessions through one redisstore.Store for
// the whole test, at a steady pace, so that both live through the same
// faults. A round:
//
//  1. both writers have writes acknowledged;
//  2. the primary is cut off with nftables (drop, both directions), in
//     one of three ways, round after round:
//     "at once": from every host at once;
//     "replica first": from the replica first, and from the clients and
//     the sentinels once the writers have seen the replica go
//     (WaitReplicas=1 refusing writes), as a partition that does not
//     fall everywhere at the same instant;
//     "clients still reach it": from the replica and the sentinels only,
//     so that the clients write to it until Sentinel has promoted the
//     replica and redisstore has followed (split brain);
//  3. Sentinel promotes the replica, and the clients write to it;
//  4. the partition heals: Sentinel turns the old primary into a replica
//     of the new one (after 8 s: Sentinel waits that long before it
//     reconfigures a primary that comes back), which then acknowledges
//     WAIT again. Both writers must have writes acknowledged after that:
//     redisstore follows the failovers by itself.
//
// The next round cuts the new primary. At the end the writers load back
// every session they wrote, through the same stores. With WaitReplicas=1
// no acknowledged write may be lost; a write that failed (ErrNotReplicated,
// or a timeout) is an unknown: the primary may hold it. Without
// WaitReplicas the losses are counted and logged, not asserted: replication
// is asynchronous, and whether a write was unreplicated at the cut is luck.
//
// ROUNDS sets the number of rounds (about 25 s each): by default 2, the
// first two kinds; 3 or more take the three kinds in turn.
func TestSentinelPartition(t *testing.T) {
	rounds := 2
	if v := os.Getenv("ROUNDS"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r < 1 {
			t.Fatalf("ROUNDS=%q: want a positive number", v)
		}
		rounds = r
	}
	n := newNetns(t)
	g := startSentinelGroup(t, n)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	// Two writers, WaitReplicas 0 and 1, for all the rounds.
	var writers [2]*proc.Process
	var status [2]string
	for wait := range 2 {
		status[wait] = filepath.Join(t.TempDir(), "status.json")
		writers[wait] = n.start("client", []string{
			sentinelWriterEnv + "=" + status[wait],
			sentinelURLEnv + "=" + g.url(),
			sentinelWaitEnv + "=" + strconv.Itoa(wait),
		}, self, "-test.run", "^$")
	}
	stat := func(wait int) sentinelStatus {
		st, err := readSentinelStatus(status[wait])
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the writer with WaitReplicas=%d: %v", wait, err)
		}
		return st
	}
	// until waits until cond holds for both writers (or the one given),
	// failing at once if one exits.
	until := func(what string, timeout time.Duration, cond func(w int, st sentinelStatus) error, which ...int) {
		t.Helper()
		if which == nil {
			which = []int{0, 1}
		}
		err := proc.WaitFor(timeout, func() error {
			for _, w := range which {
				select {
				case <-writers[w].Done():
					return proc.Stop(fmt.Errorf("the writer with WaitReplicas=%d exited: %v\n%s", w, writers[w].Err(), writers[w].Output()))
				default:
				}
				if err := cond(w, stat(w)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ackedSince := func(since time.Time) func(int, sentinelStatus) error {
		return func(w int, st sentinelStatus) error {
			if st.LastOK < since.UnixNano() {
				return fmt.Errorf("the writer with WaitReplicas=%d has no write acknowledged since %v (last error: %s)", w, since.Format(time.StampMilli), st.LastErr)
			}
			return nil
		}
	}

	cuts := make([]string, rounds)
	for round := range rounds {
		var primary string
		if err := proc.WaitFor(10*time.Second, func() error {
			var err error
			primary, err = g.primary()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		replica := g.other(primary)
		kind := round % 3
		cuts[round] = []string{"at once", "replica first", "clients still reach it"}[kind]
		t.Logf("round %d: cutting %s (%s) off, %s", round+1, primary, g.addr[primary], cuts[round])

		// 1. The writers count in this round, and have writes
		// acknowledged.
		if round > 0 {
			for _, w := range writers {
				if err := w.Signal(syscall.SIGUSR1); err != nil {
					t.Fatal(err)
				}
			}
		}
		until("the writers' writes before the cut", 30*time.Second, func(w int, st sentinelStatus) error {
			if len(st.Rounds) != round+1 || st.Rounds[round].OK < 200 {
				return fmt.Errorf("the writer with WaitReplicas=%d has not had 200 writes acknowledged in round %d: %+v", w, round+1, st.Rounds)
			}
			return nil
		})

		// 2. The cut.
		cutAt := time.Now()
		if kind == 1 {
			g.drop(primary, "replica", "ip saddr "+g.addr[replica], "ip daddr "+g.addr[replica])
			// WaitReplicas=1 refuses writes once the replica is gone,
			// while the other writer's are still acknowledged.
			until("after cutting the primary from its replica", 10*time.Second, func(w int, st sentinelStatus) error {
				if st.LastNR < cutAt.UnixNano() {
					return errors.New("WaitReplicas=1 still has its writes replicated")
				}
				return nil
			}, 1)
			until("WaitReplicas=0 with the replica cut off", 10*time.Second, ackedSince(time.Now()), 0)
		}
		if kind == 2 {
			servers := "{ " + strings.Join([]string{g.addr[replica], g.addr["s1"], g.addr["s2"], g.addr["s3"]}, ", ") + " }"
			g.drop(primary, "servers", "ip saddr "+servers, "ip daddr "+servers)
		} else {
			g.drop(primary, "all", `iifname "eth0"`, `oifname "eth0"`)
		}

		// 3. The failover.
		var promoted string
		if err := proc.WaitFor(30*time.Second, func() error {
			p, err := g.primary()
			if err != nil {
				return err
			}
			if p == primary {
				return errors.New("no failover yet")
			}
			promoted = p
			return nil
		}); err != nil {
			t.Fatalf("failover: %v", err)
		}
		failover := time.Since(cutAt)
		until("WaitReplicas=0 after the failover", 20*time.Second, ackedSince(time.Now()), 0)

		// 4. The heal, and the old primary a replica of the new one.
		g.heal(primary)
		healed := time.Now()
		if err := proc.WaitFor(40*time.Second, func() error {
			info, err := g.cli(primary, "INFO", "replication")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_host:"+g.addr[promoted]) ||
				!strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("%s is not yet a replica of %s in sync", primary, promoted)
			}
			return nil
		}); err != nil {
			t.Fatalf("after the heal: %v", err)
		}
		demoted := time.Since(healed)
		until("after the old primary became a replica", 20*time.Second, ackedSince(time.Now()))
		t.Logf("round %d: %s promoted %v after the cut; after the heal, %s a replica in sync after %v, both writers acknowledged after %v",
			round+1, promoted, failover.Round(time.Millisecond), primary, demoted.Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
	}

	// The writers stop together, then load back what they wrote.
	for _, w := range writers {
		if err := w.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	var sums [2]sentinelStatus
	for w := range 2 {
		if err := writers[w].Stop(90 * time.Second); err != nil {
			t.Fatalf("the writer with WaitReplicas=%d: %v\n%s", w, err, writers[w].Output())
		}
		var err error
		if sums[w], err = parseSentinelSummary(writers[w].Output()); err != nil {
			t.Fatalf("the writer with WaitReplicas=%d: %v", w, err)
		}
		if len(sums[w].Rounds) != rounds {
			t.Fatalf("the writer with WaitReplicas=%d counted %d rounds, want %d", w, len(sums[w].Rounds), rounds)
		}
	}
	var b strings.Builder
	b.WriteString("| round | cut | WaitReplicas | acknowledged | lost | unknown (not replicated + other) | unknown present |\n|---|---|---|---|---|---|---|\n")
	for round := range rounds {
		for w, s := range sums {
			c := s.Rounds[round]
			fmt.Fprintf(&b, "| %d | %s | %d | %d | %d | %d + %d | %d |\n", round+1, cuts[round], w, c.OK, c.Lost, c.NotReplicated, c.Failed, c.UnknownPresent)
		}
	}
	t.Logf("lost acknowledged writes:\n%s", b.String())
	for round, c := range sums[1].Rounds {
		if c.Lost > 0 {
			t.Errorf("round %d: %d acknowledged writes lost with WaitReplicas=1, want 0", round+1, c.Lost)
		}
	}
}

// parseSentinelSummary finds the writer's summary line in its output.
func parseSentinelSummary(out string) (sentinelStatus, error) {
	var s sentinelStatus
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), sentinelSummaryPrefix); ok {
			return s, json.Unmarshal([]byte(rest), &s)
		}
	}
	return s, fmt.Errorf("no summary line in its output:\n%s", out)
}
