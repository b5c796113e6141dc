package clusterstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/proc"
)

// TestMemoryAndTraffic measures what the README reports: session bytes
// held per node and bytes sent per commit, for N = 2, 3, 5, with one backup
// and all-to-all, with the total number of sessions fixed and growing with
// N. It asserts the shape: with k backups a node holds about (1+k)/N of
// all sessions; all-to-all holds all of them.
//
// Run it with -v to see the table.
func TestMemoryAndTraffic(t *testing.T) {
	value := []byte(strings.Repeat("v", 180)) // a ~200-byte session
	var table strings.Builder
	fmt.Fprintf(&table, "\n| N | backups | sessions | bytes/node (mean) | share of all | wire bytes/commit |\n|---|---|---|---|---|---|\n")
	for _, n := range []int{2, 3, 5} {
		for _, k := range []int{1, AllToAll} {
			for _, growing := range []bool{false, true} {
				total := 300
				if growing {
					total = 100 * n
				}
				nodes := startNodes(t, n, k, testKey)
				ctx := context.Background()
				toks := createSessions(t, nodes, total, func(int) []byte { return value })
				copies := k + 1
				if k == AllToAll {
					copies = n
				}
				waitCopies(t, nodes, copies*total)
				sent := func() float64 {
					sum := 0.0
					for _, s := range nodes {
						sum += testutil.ToFloat64(s.metrics.sent)
					}
					return sum
				}
				before := sent()
				for i, tok := range toks {
					s := nodes[i%n]
					if _, err := s.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "last_seen", Value: []byte("1794990000")}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
						t.Fatal(err)
					}
				}
				perCommit := (sent() - before) / float64(total)
				held := 0
				for _, s := range nodes {
					_, b := s.table.stats()
					held += b
				}
				perNode := float64(held) / float64(n)
				all := float64(held) / float64(copies)
				share := perNode / all
				want := float64(copies) / float64(n)
				if share < want*0.7 || share > want*1.3 {
					t.Errorf("N=%d k=%d: a node holds %.2f of all sessions, want about %.2f", n, k, share, want)
				}
				label := fmt.Sprint(k)
				if k == AllToAll {
					label = "all"
				}
				fmt.Fprintf(&table, "| %d | %s | %d | %.0f | %.2f | %.0f |\n", n, label, total, perNode, share, perCommit)
				closeAll(nodes)
			}
		}
	}
	t.Log(table.String())
}

func waitCopies(t *testing.T, nodes []*Store, want int) {
	t.Helper()
	if err := proc.WaitFor(10*time.Second, func() error {
		got := 0
		for _, s := range nodes {
			n, _ := s.table.stats()
			got += n
		}
		if got != want {
			return fmt.Errorf("%d copies, want %d", got, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
