// Package lab measures the session strategies side by side on this
// machine: the same simulated users (log in, browse, add to cart, check
// out, with think time) run through the router against a local cluster of
// real processes (the demo's), while a node is killed with SIGKILL and
// later a node is added. It measures latency, bytes per request on the
// wire, memory per node, and the users who lost their session or cart at
// each event, and writes a report (Markdown, HTML with charts, CSV, JSON).
//
// Simulate extends the same accounting to sizes this machine cannot run,
// on the ring simulator.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Strategy is one configuration the lab measures.
type Strategy struct {
	// Name is the lab's name for it, as --strategies takes it.
	Name string `json:"name"`
	// Demo is the demo strategy that runs it, and Backups its cluster
	// store backups.
	Demo    string `json:"demo"`
	Backups string `json:"backups,omitempty"`
	// Family is the classic strategy it stands for.
	Family string `json:"family"`
}

// Strategies are every strategy the lab knows, in report order.
var Strategies = []Strategy{
	{Name: "cluster", Demo: "cluster", Backups: "1", Family: "replication, k=1 backup on the ring"},
	{Name: "all-to-all", Demo: "cluster", Backups: "all", Family: "replication, all-to-all"},
	{Name: "sticky", Demo: "sticky", Family: "hash routing (k=0)"},
	{Name: "cookie", Demo: "cookie", Family: "client-side (sealed cookie)"},
	{Name: "redis", Demo: "redis", Family: "central store (Redis)"},
	{Name: "sql", Demo: "sql", Family: "central store (SQLite file)"},
}

// ParseStrategies reads a comma-separated list of strategy names; "all"
// (or "") is every strategy.
func ParseStrategies(s string) ([]Strategy, error) {
	if s == "" || s == "all" {
		return slices.Clone(Strategies), nil
	}
	var out []Strategy
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(Strategies, func(st Strategy) bool { return st.Name == name })
		if i < 0 {
			var names []string
			for _, st := range Strategies {
				names = append(names, st.Name)
			}
			return nil, fmt.Errorf("unknown strategy %q (want all or some of %s)", name, strings.Join(names, ","))
		}
		out = append(out, Strategies[i])
	}
	return out, nil
}

// Config configures a lab run. The zero value, with Binary set, is the
// default run.
type Config struct {
	// Binary is the sessionkit binary that runs the nodes and routers.
	// Required.
	Binary string
	// Strategies are measured in this order. Default: every strategy.
	Strategies []Strategy
	// Nodes is the number of nodes of the main run. Default 3.
	Nodes int
	// Users is the number of simulated users of the main run. Default 200.
	Users int
	// Duration is the main run's length per strategy. Default 30s. The
	// node is killed at 40% of it and one is added at 70%.
	Duration time.Duration
	// Think is a user's mean pause between two requests. Default 1s.
	Think time.Duration
	// Growth are the cluster sizes of the memory growth phase, with users
	// in proportion (Users/Nodes per node). Default 2, 3, 5; a single 0
	// skips the phase.
	Growth []int
	// Redis is the redis-server program for the redis strategy. Default:
	// "redis-server" on PATH; when missing, that strategy is reported as
	// not measured.
	Redis string
	// Progress receives progress; Terminal draws bars on it instead of
	// lines. Default: none.
	Progress io.Writer
	Terminal bool
	// Logger receives the children's management log lines. Default: none.
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Binary == "" {
		return errors.New("lab: no sessionkit binary")
	}
	if len(c.Strategies) == 0 {
		c.Strategies = slices.Clone(Strategies)
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Users == 0 {
		c.Users = 200
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Think == 0 {
		c.Think = time.Second
	}
	if len(c.Growth) == 0 {
		c.Growth = []int{2, 3, 5}
	}
	if len(c.Growth) == 1 && c.Growth[0] == 0 {
		c.Growth = nil
	}
	if c.Redis == "" {
		c.Redis = "redis-server"
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Nodes < 2:
		return errors.New("lab: at least 2 nodes, so that one can be killed")
	case c.Users < 1:
		return errors.New("lab: at least 1 user")
	case c.Duration < 3*time.Second:
		return errors.New("lab: a duration of at least 3s")
	case c.Think < 0:
		return errors.New("lab: a negative think time")
	}
	for _, n := range c.Growth {
		if n < 1 {
			return fmt.Errorf("lab: growth size %d: want positive sizes", n)
		}
	}
	return nil
}

// Report is the outcome of a lab run.
type Report struct {
	Started  time.Time `json:"started"`
	Elapsed  Seconds   `json:"elapsed_s"`
	Machine  string    `json:"machine"`
	Nodes    int       `json:"nodes"`
	Users    int       `json:"users"`
	Duration Seconds   `json:"duration_s"`
	Think    Seconds   `json:"think_s"`
	Growth   []int     `json:"growth_nodes"`
	Phases   []*Phase  `json:"phases"`
}

// Seconds is a duration that marshals as seconds.
type Seconds float64

func secs(d time.Duration) Seconds { return Seconds(math.Round(d.Seconds()*1000) / 1000) }

// Phase is one strategy's measures.
type Phase struct {
	Strategy Strategy `json:"strategy"`
	// Measured is false when the phase could not run; Reason says why.
	Measured bool   `json:"measured"`
	Reason   string `json:"reason,omitempty"`

	Requests int       `json:"requests"`
	Failed   int       `json:"failed"`
	Latency  Quantiles `json:"latency"`
	// Steady is the window before the first event in which bytes are
	// counted.
	Steady Window `json:"steady"`
	// ClientBytes are bytes per request between the clients and the
	// router (request and response: headers, bodies, cookies).
	ClientBytes   Bytes   `json:"client_bytes"`
	BackendBytes  float64 `json:"backend_bytes_per_request"`
	BackendMethod string  `json:"backend_method"`
	Memory        Memory  `json:"memory"`
	Events        []Event `json:"events"`
	// Steady-state losses and failures (before the first event).
	Before   Window     `json:"before_events"`
	Growth   []Growth   `json:"growth,omitempty"`
	Seconds  []Second   `json:"seconds"`
	Samples  []Sample   `json:"-"`
	Problems []string   `json:"problems,omitempty"`
	Elapsed  Seconds    `json:"elapsed_s"`
	timeline []timeMark // events, for the series chart
}

type timeMark struct {
	at   time.Duration
	name string
}

// Quantiles are latencies in milliseconds.
type Quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

// Bytes are client-router bytes per request.
type Bytes struct {
	Request  float64 `json:"request"`
	Response float64 `json:"response"`
}

// Total returns request plus response bytes.
func (b Bytes) Total() float64 { return b.Request + b.Response }

// Window is a span of the run and what happened in it.
type Window struct {
	From        Seconds   `json:"from_s"`
	To          Seconds   `json:"to_s"`
	Requests    int       `json:"requests"`
	Failed      int       `json:"failed"`
	Latency     Quantiles `json:"latency"`
	LostSession int       `json:"users_lost_session"`
	LostCart    int       `json:"users_lost_cart_items"`
	LostItems   int       `json:"cart_items_lost"`
}

// Event is a node killed or added, and what followed until the next.
type Event struct {
	Name string  `json:"name"`
	At   Seconds `json:"at_s"`
	// Around is the few seconds around the event (latency, failures);
	// Until runs from the event to the next one or the end (losses).
	Around Window `json:"around"`
	Until  Window `json:"until_next"`
	// Share is, for a kill on the cluster store, the sessions the killed
	// node owned and all sessions then; -1 when unknown.
	OwnedByNode int `json:"owned_by_node"`
	// ServedUsers is, for a kill, the users the killed node answered last.
	ServedUsers  int `json:"served_users,omitempty"`
	SessionsThen int `json:"sessions_then"`
	Users        int `json:"users"`
}

// Memory is what the stores and processes held in the steady state,
// before the first event.
type Memory struct {
	// SessionBytes is the session bytes each node reports holding: the
	// sessions' data (principals, keys and values).
	SessionBytes map[string]int64 `json:"session_bytes_per_node"`
	// Sessions is the sessions each node holds, as owner or backup.
	Sessions map[string]int64 `json:"sessions_per_node"`
	// Central is the bytes the central store grew by (Redis used_memory,
	// SQLite file size); 0 for other strategies.
	Central       int64            `json:"central_bytes"`
	CentralMethod string           `json:"central_method,omitempty"`
	RSS           map[string]int64 `json:"rss_bytes"`
}

// MeanSessionBytes returns the mean of the nodes' session bytes.
func (m Memory) MeanSessionBytes() float64 { return meanOf(m.SessionBytes) }

// MeanSessionHeap returns the mean heap the nodes' sessions cost: their
// data plus HeapOverhead per session held.
func (m Memory) MeanSessionHeap() float64 {
	return sessionHeap(meanOf(m.SessionBytes), meanOf(m.Sessions), HeapOverhead)
}

// MeanNodeRSS returns the mean RSS of the nodes (processes named n...).
func (m Memory) MeanNodeRSS() float64 {
	nodes := map[string]int64{}
	for k, v := range m.RSS {
		if strings.HasPrefix(k, "n") {
			nodes[k] = v
		}
	}
	return meanOf(nodes)
}

func meanOf(m map[string]int64) float64 {
	if len(m) == 0 {
		return 0
	}
	var sum int64
	for _, v := range m {
		sum += v
	}
	return float64(sum) / float64(len(m))
}

// Growth is the memory held with N nodes and users in proportion.
type Growth struct {
	Nodes  int    `json:"nodes"`
	Users  int    `json:"users"`
	Memory Memory `json:"memory"`
	Reason string `json:"reason,omitempty"`
}

// Second is one second of the run.
type Second struct {
	T        int     `json:"t"`
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
}

// Sample is one request.
type Sample struct {
	T       time.Duration
	Latency time.Duration
	Op      string
	Code    int // 0: transport error
	User    int
}

// Run runs every strategy's phases and returns the report. A phase that
// cannot run is reported as not measured; Run fails only on a bad
// configuration or when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{
		Started: time.Now().UTC(), Machine: machine(),
		Nodes: cfg.Nodes, Users: cfg.Users, Duration: secs(cfg.Duration), Think: secs(cfg.Think), Growth: cfg.Growth,
	}
	pr := newProgress(cfg.Progress, cfg.Terminal)
	for _, st := range cfg.Strategies {
		t0 := time.Now()
		ph := runPhase(ctx, cfg, st, pr)
		ph.Elapsed = secs(time.Since(t0))
		rep.Phases = append(rep.Phases, ph)
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	rep.Elapsed = secs(time.Since(rep.Started))
	return rep, nil
}

func machine() string {
	s := fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				s += ", " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return s
}
