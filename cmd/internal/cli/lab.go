package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/lab"
)

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sessionkit lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	strategies := fs.String("strategies", "all", "strategies to measure: all, or a comma-separated list of cluster, all-to-all, sticky, cookie, redis, sql")
	nodes := fs.Int("nodes", 0, "nodes of the main run (default 3; with -simulate, 100)")
	users := fs.Int("users", 200, "simulated users of the main run")
	duration := fs.Duration("duration", 30*time.Second, "main run per strategy; a node is killed at 40% of it, one added at 70%")
	think := fs.Duration("think", time.Second, "a user's mean pause between requests")
	growth := fs.String("growth", "2,3,5", `cluster sizes of the memory growth runs, users in proportion ("0": skip them)`)
	out := fs.String("out", "lab-report", "folder the report is written to")
	redis := fs.String("redis-server", "redis-server", "the redis-server program for the redis strategy")
	level := fs.String("log-level", "error", "log level of the cluster's management lines: debug, info, warn, error")
	simulate := fs.Bool("simulate", false, "simulate placement and replication at -nodes and -sessions instead of running processes")
	sessions := fs.Int("sessions", 10_000_000, "with -simulate: sessions")
	sample := fs.Int("sample", 1_000_000, "with -simulate: keys the ring simulator places, its shares scaled to -sessions")
	sessionBytes := fs.Int("session-bytes", 200, "with -simulate: bytes of one session")
	writes := fs.Int("writes", 10_000, "with -simulate: session writes per second")
	deltaBytes := fs.Int("delta-bytes", 100, "with -simulate: bytes of one replicated write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *simulate {
		rep, err := lab.Simulate(lab.SimConfig{Nodes: *nodes, Sessions: *sessions, Sample: *sample, SessionBytes: *sessionBytes, Writes: *writes, DeltaBytes: *deltaBytes})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		for name, write := range map[string]func(io.Writer) error{"simulation.md": rep.WriteMarkdown, "simulation.json": rep.WriteJSON} {
			f, err := os.Create(filepath.Join(*out, name))
			if err != nil {
				return err
			}
			err = write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
		if err := rep.WriteMarkdown(stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwritten to %s\n", filepath.Join(*out, "simulation.md"))
		return nil
	}
	sts, err := lab.ParseStrategies(*strategies)
	if err != nil {
		return err
	}
	var sizes []int
	for s := range strings.SplitSeq(*growth, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-growth %q: want comma-separated node counts", *growth)
		}
		sizes = append(sizes, n)
	}
	log, err := logger(stderr, *level, "text")
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	rep, err := lab.Run(ctx, lab.Config{
		Binary: bin, Strategies: sts, Nodes: *nodes, Users: *users, Duration: *duration, Think: *think,
		Growth: sizes, Redis: *redis, Progress: stdout, Terminal: isTerminal(stdout), Logger: log,
	})
	if rep != nil {
		if werr := rep.Write(*out); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s (and report.md, CSV, JSON) in %.0f s\n", filepath.Join(*out, "report.html"), float64(rep.Elapsed))
	return nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
