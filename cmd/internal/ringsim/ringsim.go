// Package ringsim simulates key placement on a ring at sizes a test
// cluster cannot reach: balance, keys moved when members join or leave,
// and whether a failed member's keys land where a copy already was. It is
// the engine of "sessionkit ring simulate" and of the lab's placement
// report.
package ringsim

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/sessionkit/sessionkit/ring"
)

// Config describes one simulation. The zero value simulates the default
// ring algorithm with 100 nodes, 1,000,000 keys and nothing else.
type Config struct {
	// Ring configures the ring: algorithm, points, seed, table size.
	Ring ring.Config

	// Nodes is the number of members before any change. Default 100.
	Nodes int

	// Keys is the number of keys placed. Default 1,000,000. Keys are
	// 32 bytes, like the SHA-256 token hashes sessionkit places.
	Keys int

	// Replicas is the number of backups of each key: the key is held by
	// the first 1+Replicas members of its preference list. Default 0.
	Replicas int

	// Add is the number of members joining in the add scenario; 0 skips it.
	Add int

	// Remove is the number of members leaving in the remove scenario,
	// chosen at random (by Seed); 0 skips it.
	Remove int

	// Seed chooses the keys and the members that leave. Default 0.
	Seed uint64
}

// Result is the outcome of Run.
type Result struct {
	// Config is the configuration run, with defaults filled in.
	Config Config

	// MaxMean and MinMean are the largest and smallest number of keys
	// owned by one member, over the mean.
	MaxMean, MinMean float64

	// Noise is the relative standard deviation of one member's key count
	// that sampling alone causes, even with perfect balance: differences
	// of MaxMean and MinMean from 1 within about 3*Noise say nothing.
	Noise float64

	// Add and Remove describe the scenarios; nil when not run.
	Add, Remove *Change
}

// Change describes moving from the initial members to a changed set.
type Change struct {
	// Members is the number of members that joined or left.
	Members int

	// Moved is the share of all keys whose owner changed, and Optimum the
	// least share any algorithm must move: joined/(N+joined) or left/N.
	Moved, Optimum float64

	// BetweenSurvivors is the share of all keys that moved from one
	// member present before and after to another such member: moves a
	// consistent hash should not make.
	BetweenSurvivors float64

	// CopyHeld is, when members left and Replicas > 0, the share of the
	// departed members' keys whose new owner already held a copy; when
	// members joined, the share of moved keys whose previous owner keeps
	// a copy (is among the key's first 1+Replicas members afterwards).
	CopyHeld float64

	// LargestReceiver is, when members left, the largest share of the
	// departed members' keys that one surviving member took over, and
	// Receivers the number of survivors that took some.
	LargestReceiver float64
	Receivers       int
}

func (c *Config) defaults() error {
	if c.Nodes == 0 {
		c.Nodes = 100
	}
	if c.Keys == 0 {
		c.Keys = 1_000_000
	}
	switch {
	case c.Nodes < 1 || c.Keys < 1 || c.Replicas < 0 || c.Add < 0 || c.Remove < 0:
		return errors.New("ringsim: nodes and keys must be positive; replicas, add and remove not negative")
	case c.Remove >= c.Nodes:
		return fmt.Errorf("ringsim: cannot remove %d of %d nodes", c.Remove, c.Nodes)
	}
	return nil
}

// Run runs the simulation described by cfg.
func Run(cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	res := &Result{Config: cfg}
	all := make([]ring.Member, cfg.Nodes+cfg.Add)
	for i := range all {
		all[i] = ring.Member{Name: fmt.Sprintf("node-%04d", i)}
		if cfg.Ring.Algorithm == ring.Nginx {
			all[i].Name = fmt.Sprintf("10.%d.%d.%d:8080", i>>16, i>>8&255, i&255)
		}
	}
	base, err := ring.New(cfg.Ring, all[:cfg.Nodes])
	if err != nil {
		return nil, err
	}

	counts := make([]int, cfg.Nodes)
	keys := keySource{seed: cfg.Seed}
	for i := range cfg.Keys {
		counts[base.OwnerIndex(keys.key(i))]++
	}
	mean := float64(cfg.Keys) / float64(cfg.Nodes)
	res.MaxMean = float64(slices.Max(counts)) / mean
	res.MinMean = float64(slices.Min(counts)) / mean
	p := 1 / float64(cfg.Nodes)
	res.Noise = math.Sqrt((1 - p) / (p * float64(cfg.Keys)))

	if cfg.Add > 0 {
		grown, err := ring.New(cfg.Ring, all)
		if err != nil {
			return nil, err
		}
		res.Add = compare(cfg, base, grown, cfg.Add)
		res.Add.Optimum = float64(cfg.Add) / float64(cfg.Nodes+cfg.Add)
	}
	if cfg.Remove > 0 {
		rest := slices.Clone(all[:cfg.Nodes])
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
		rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		shrunk, err := ring.New(cfg.Ring, rest[cfg.Remove:])
		if err != nil {
			return nil, err
		}
		res.Remove = compare(cfg, base, shrunk, cfg.Remove)
		res.Remove.Optimum = float64(cfg.Remove) / float64(cfg.Nodes)
	}
	return res, nil
}

// compare places every key on before and after.
func compare(cfg Config, before, after *ring.Ring, changed int) *Change {
	ch := &Change{Members: changed}
	holders := 1 + cfg.Replicas
	var old, cur []string
	received := map[string]int{}
	orphans, moved, between, held := 0, 0, 0, 0
	keys := keySource{seed: cfg.Seed}
	for i := range cfg.Keys {
		k := keys.key(i)
		old = before.Owners(k, holders, old[:0])
		cur = after.Owners(k, holders, cur[:0])
		if old[0] == cur[0] {
			continue
		}
		moved++
		_, oldStays := after.Index(old[0])
		_, newWas := before.Index(cur[0])
		switch {
		case oldStays && newWas:
			between++
		case !oldStays: // the owner left
			orphans++
			received[cur[0]]++
			if slices.Contains(old[1:], cur[0]) {
				held++
			}
		default: // a new member took the key
			if slices.Contains(cur[1:], old[0]) {
				held++
			}
		}
	}
	n := float64(cfg.Keys)
	ch.Moved, ch.BetweenSurvivors = float64(moved)/n, float64(between)/n
	if after.Len() > before.Len() {
		if newKeys := moved - between; newKeys > 0 {
			ch.CopyHeld = float64(held) / float64(newKeys)
		}
	} else if orphans > 0 {
		ch.CopyHeld = float64(held) / float64(orphans)
		ch.Receivers = len(received)
		most := 0
		for _, c := range received {
			most = max(most, c)
		}
		ch.LargestReceiver = float64(most) / float64(orphans)
	}
	return ch
}

// keySource yields 32-byte keys that look like SHA-256 hashes.
type keySource struct {
	seed uint64
	buf  [32]byte
}

func (s *keySource) key(i int) []byte {
	x := s.seed*0x9e3779b97f4a7c15 + uint64(i)*4
	for w := range 4 {
		binary.LittleEndian.PutUint64(s.buf[8*w:], splitmix(x+uint64(w)))
	}
	return s.buf[:]
}

func splitmix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Command runs "ring simulate" with args (without the command name),
// writing the report or the usage to stdout. It returns flag.ErrHelp
// after printing the usage for -h. Each of parse (at most one; default
// fs.Parse) parses the arguments instead: the command passes one that
// also reads the environment.
func Command(args []string, stdout io.Writer, parse ...func(fs *flag.FlagSet, args []string) error) error {
	fs := flag.NewFlagSet("sessionkit ring simulate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var cfg Config
	algo := fs.String("algo", string(ring.VirtualNodes), "algorithm: "+algorithms())
	fs.IntVar(&cfg.Nodes, "nodes", 100, "members before any change (at least 1)")
	fs.IntVar(&cfg.Keys, "keys", 1_000_000, "keys to place (at least 1)")
	fs.IntVar(&cfg.Replicas, "replicas", 1, "backups per key")
	fs.IntVar(&cfg.Add, "add", 1, "members joining (0: skip)")
	fs.IntVar(&cfg.Remove, "remove", 1, "members leaving (0: skip)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the keys and of the members leaving")
	fs.IntVar(&cfg.Ring.Points, "points", 0, "ring points per unit of weight (0: default)")
	fs.IntVar(&cfg.Ring.TableSize, "table-size", 0, "maglev table size, a prime (0: default)")
	fs.Uint64Var(&cfg.Ring.Seed, "ring-seed", 0, "seed of the ring's hashes")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sessionkit ring simulate [flags]")
		fs.PrintDefaults()
	}
	p := fs.Parse
	if len(parse) > 0 {
		p = func(args []string) error { return parse[0](fs, args) }
	}
	if err := p(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("ring simulate: unexpected argument %q", fs.Arg(0))
	}
	// The zero values of Config mean defaults; a zero on the command
	// line means the user asked for none, which cannot be simulated.
	for _, c := range []struct {
		name     string
		v, least int
	}{{"nodes", cfg.Nodes, 1}, {"keys", cfg.Keys, 1}, {"replicas", cfg.Replicas, 0}, {"add", cfg.Add, 0}, {"remove", cfg.Remove, 0}} {
		if c.v < c.least {
			return fmt.Errorf("ring simulate: -%s %d: want %d or more, e.g. -%s %s", c.name, c.v, c.least, c.name, fs.Lookup(c.name).DefValue)
		}
	}
	if cfg.Remove >= cfg.Nodes {
		return fmt.Errorf("ring simulate: -remove %d of -nodes %d: at least one node must stay", cfg.Remove, cfg.Nodes)
	}
	a, err := ring.ParseAlgorithm(*algo)
	if err != nil {
		return fmt.Errorf("ring simulate: -algo %q: want one of %s", *algo, algorithms())
	}
	cfg.Ring.Algorithm = a
	res, err := Run(cfg)
	if err != nil {
		return err
	}
	return res.Write(stdout)
}

// algorithms lists the ring's algorithms for messages.
func algorithms() string {
	var names []string
	for _, a := range ring.Algorithms() {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}

// Write prints r as a short report.
func (r *Result) Write(w io.Writer) error {
	c := r.Config
	pct := func(f float64) string { return fmt.Sprintf("%.3f%%", 100*f) }
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	backups := "backups"
	if c.Replicas == 1 {
		backups = "backup"
	}
	p("algorithm %s, %d nodes, %d keys, %d %s per key\n", c.Ring.Algorithm, c.Nodes, c.Keys, c.Replicas, backups)
	p("balance: max/mean %.3f, min/mean %.3f (sampling noise %.2f%% per node)\n", r.MaxMean, r.MinMean, 100*r.Noise)
	if a := r.Add; a != nil {
		p("add %d: moved %s of keys (optimum %s), %s between surviving nodes\n",
			a.Members, pct(a.Moved), pct(a.Optimum), pct(a.BetweenSurvivors))
		if c.Replicas > 0 {
			p("  previous owner keeps a copy of %s of the keys the new nodes took\n", pct(a.CopyHeld))
		}
	}
	if m := r.Remove; m != nil {
		p("remove %d: moved %s of keys (optimum %s), %s between surviving nodes\n",
			m.Members, pct(m.Moved), pct(m.Optimum), pct(m.BetweenSurvivors))
		if c.Replicas > 0 {
			p("  new owner already held a copy of %s of the removed nodes' keys\n", pct(m.CopyHeld))
		}
		p("  %d survivors took the removed nodes' keys; the largest took %s of them\n",
			m.Receivers, pct(m.LargestReceiver))
	}
	return err
}
