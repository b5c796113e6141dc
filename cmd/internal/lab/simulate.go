package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sessionkit/sessionkit/cmd/internal/ringsim"
)

// SimConfig configures a simulation: placement and replication accounting
// at a size this machine cannot run as processes, with no network.
type SimConfig struct {
	// Nodes is the cluster size. Default 100.
	Nodes int `json:"nodes"`
	// Sessions is the number of sessions. Default 10,000,000.
	Sessions int `json:"sessions"`
	// Sample is the number of keys the ring simulator places; shares
	// measured on them are scaled to Sessions. Default 1,000,000 (or
	// Sessions when fewer); it never exceeds Sessions.
	Sample int `json:"sample"`
	// SessionBytes is one session's data (principal, keys and values).
	// Default 200, about the shop's session with a few cart items.
	SessionBytes int `json:"session_bytes"`
	// HeapOverhead is what one session held costs a node's heap beyond
	// its data. Default HeapOverhead, measured.
	HeapOverhead int `json:"heap_overhead_bytes"`
	// Writes is the cluster's session writes per second. Default 10,000.
	Writes int `json:"writes_per_second"`
	// DeltaBytes is one write's replicated delta. Default 100.
	DeltaBytes int `json:"delta_bytes"`
	// Seed chooses the keys and the node that crashes. Default 1.
	Seed uint64 `json:"seed"`
}

func (c *SimConfig) defaults() error {
	if c.Nodes == 0 {
		c.Nodes = 100
	}
	if c.Sessions == 0 {
		c.Sessions = 10_000_000
	}
	if c.Sample == 0 {
		c.Sample = 1_000_000
	}
	c.Sample = min(c.Sample, c.Sessions)
	if c.SessionBytes == 0 {
		c.SessionBytes = 200
	}
	if c.HeapOverhead == 0 {
		c.HeapOverhead = HeapOverhead
	}
	if c.Writes == 0 {
		c.Writes = 10_000
	}
	if c.DeltaBytes == 0 {
		c.DeltaBytes = 100
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Nodes < 2 || c.Sessions < 1 || c.Sample < 1 || c.SessionBytes < 1 || c.Writes < 0 || c.DeltaBytes < 1 || c.HeapOverhead < 0 {
		return errors.New("lab simulate: at least 2 nodes, and positive sessions, sample and sizes")
	}
	return nil
}

// SimRow is one strategy at the simulated size.
type SimRow struct {
	Strategy string `json:"strategy"`
	// BytesPerNode is the mean session data a node holds, MaxBytesPerNode
	// the most loaded node's (from the ring's balance); Central the bytes a
	// central store holds.
	BytesPerNode    float64 `json:"bytes_per_node"`
	MaxBytesPerNode float64 `json:"max_bytes_per_node"`
	Central         float64 `json:"central_bytes"`
	// HeapPerNode and MaxHeapPerNode are the heap those sessions cost
	// the node: their data plus HeapOverhead per session.
	HeapPerNode    float64 `json:"heap_per_node"`
	MaxHeapPerNode float64 `json:"max_heap_per_node"`
	// Replication is the bytes per second the cluster's writes cost in
	// copies to other nodes (or to the central store).
	Replication float64 `json:"replication_bytes_per_second"`
	// CrashMoved is the sessions whose owner changes when one node
	// crashes, CrashLost those no surviving node holds.
	CrashMoved float64 `json:"crash_moved"`
	CrashLost  float64 `json:"crash_lost"`
	// JoinMoved is the sessions a joining node takes over, JoinCopy those
	// whose previous owner still keeps a copy, JoinTransfer the bytes the
	// joining node receives.
	JoinMoved    float64 `json:"join_moved"`
	JoinCopy     float64 `json:"join_copy_kept"`
	JoinTransfer float64 `json:"join_transfer_bytes"`
	Note         string  `json:"note"`
}

// SimReport is the outcome of Simulate.
type SimReport struct {
	Config SimConfig `json:"config"`
	Rows   []SimRow  `json:"rows"`
}

// Simulate accounts placement and replication for each strategy, k = 0,
// 1, 2 and all-to-all, on the ring simulator.
func Simulate(cfg SimConfig) (*SimReport, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rep := &SimReport{Config: cfg}
	S, N, B := float64(cfg.Sessions), float64(cfg.Nodes), float64(cfg.SessionBytes)
	delta := float64(cfg.Writes) * float64(cfg.DeltaBytes)
	for k := range 3 {
		res, err := ringsim.Run(ringsim.Config{Nodes: cfg.Nodes, Keys: cfg.Sample, Replicas: k, Add: 1, Remove: 1, Seed: cfg.Seed})
		if err != nil {
			return nil, err
		}
		holders := float64(min(1+k, cfg.Nodes))
		row := SimRow{
			Strategy:     fmt.Sprintf("cluster k=%d", k),
			BytesPerNode: S * holders / N * B,
			Replication:  delta * float64(k),
			CrashMoved:   res.Remove.Moved * S,
			JoinMoved:    res.Add.Moved * S,
			Note:         "sessionkit's hand-off: the new owner reads through from the previous one",
		}
		row.MaxBytesPerNode = row.BytesPerNode * res.MaxMean
		held := S * holders / N
		row.HeapPerNode = sessionHeap(row.BytesPerNode, held, cfg.HeapOverhead)
		row.MaxHeapPerNode = row.HeapPerNode * res.MaxMean
		row.CrashLost = row.CrashMoved
		if k > 0 {
			row.CrashLost = row.CrashMoved * (1 - res.Remove.CopyHeld)
			row.JoinCopy = row.JoinMoved * res.Add.CopyHeld
		}
		// The joining node takes over its share of the copies.
		row.JoinTransfer = S * holders / (N + 1) * B
		if k == 0 {
			row.Strategy = "sticky (cluster k=0)"
			row.Note = "a crash loses the node's sessions; the sessions a join moves are lost behind a plain hash-routing balancer, read through by sessionkit's hand-off"
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.Rows = append(rep.Rows,
		SimRow{Strategy: "all-to-all", BytesPerNode: S * B, MaxBytesPerNode: S * B, Replication: delta * (N - 1),
			HeapPerNode: sessionHeap(S*B, S, cfg.HeapOverhead), MaxHeapPerNode: sessionHeap(S*B, S, cfg.HeapOverhead),
			JoinTransfer: S * B, Note: "every node holds every session; a joining node receives them all"},
		SimRow{Strategy: "central store", Central: S * B, Replication: delta,
			Note: "Redis or SQL holds every session; each write goes to the store once; nothing moves on a crash or join"},
		SimRow{Strategy: "cookie", Note: fmt.Sprintf("the servers hold nothing; every request carries the sealed session (about %d bytes base64)", (cfg.SessionBytes+40)*4/3)},
	)
	return rep, nil
}

// WriteMarkdown writes the simulation as a Markdown table.
func (r *SimReport) WriteMarkdown(w io.Writer) error {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "# sessionkit lab: simulation\n\n%d nodes, %d sessions of %d bytes of data, %d writes per second of %d-byte deltas; placement on the ring simulator (%d keys placed, shares scaled to %d sessions); no network. A node's session heap is the data plus %d bytes per session held, measured (docs/benchmarks.md, \"Bytes per session\").\n\n",
		c.Nodes, c.Sessions, c.SessionBytes, c.Writes, c.DeltaBytes, c.Sample, c.Sessions, c.HeapOverhead)
	b.WriteString("| strategy | session heap per node (mean / max) | session data per node (mean / max) | central store (data) | replication per second | crash: sessions moved / lost | join: sessions moved / previous owner keeps a copy | join: bytes to the new node |\n|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s / %s | %s / %s | %s | %s/s | %s / %s | %s / %s | %s |\n", row.Strategy,
			mib(row.HeapPerNode), mib(row.MaxHeapPerNode), mib(row.BytesPerNode), mib(row.MaxBytesPerNode), mib(row.Central), mib(row.Replication),
			count(row.CrashMoved), count(row.CrashLost), count(row.JoinMoved), count(row.JoinCopy), mib(row.JoinTransfer))
	}
	b.WriteString("\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "- %s: %s.\n", row.Strategy, row.Note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the simulation as JSON.
func (r *SimReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func count(f float64) string { return fmt.Sprintf("%.0f", f) }
