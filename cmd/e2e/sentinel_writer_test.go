package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/tick"
	"github.com/sessionkit/sessionkit/redisstore"
)

// The writer of TestSentinelPartition is this test binary run again in the
// clients' namespace, with these variables set: init runs it before
// TestMain, which would clear them.
const (
	sentinelWriterEnv = "SESSIONKIT_SENTINEL_WRITER" // the status file; set: run as the writer
	sentinelURLEnv    = "SESSIONKIT_SENTINEL_URL"    // the sentinels and the master set
	sentinelWaitEnv   = "SESSIONKIT_SENTINEL_WAIT"   // redisstore.Config.WaitReplicas
)

// sentinelSummaryPrefix starts the line the writer prints when it stops.
const sentinelSummaryPrefix = "sentinel-writer: "

func init() {
	status := os.Getenv(sentinelWriterEnv)
	if status == "" {
		return
	}
	if err := sentinelWriter(status); err != nil {
		fmt.Fprintln(os.Stderr, "sentinel writer:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// sentinelCounts are the outcomes of one round's creates.
type sentinelCounts struct {
	OK             int // acknowledged
	NotReplicated  int // failed with ErrNotReplicated
	Failed         int // failed otherwise
	Lost           int // acknowledged, then not found (in the summary only)
	UnknownPresent int // failed (an unknown outcome), yet found (in the summary only)
}

// sentinelStatus is what the writer reports, in its status file
// (rewritten every 50 ms) while it runs, for the test to wait on, and in
// its summary line once it has loaded every session back.
type sentinelStatus struct {
	Rounds  []sentinelCounts // by round: SIGUSR1 starts the next one
	LastOK  int64            // UnixNano of the last acknowledged create
	LastNR  int64            // UnixNano of the last ErrNotReplicated
	LastErr string
}

// sentinelWriter creates sessions through redisstore, as a node of the
// product would, from four goroutines, each at most one every 5 ms, with
// one store for its whole life, until SIGTERM. SIGUSR1 starts the next
// round: each create counts in the round it started in. On SIGTERM it
// loads every session back through the same store (which has lived
// through every failover) and prints its status as a line starting with
// sentinelSummaryPrefix. A create that fails is an unknown: the primary
// may hold it.
func sentinelWriter(statusPath string) error {
	wait, err := strconv.Atoi(os.Getenv(sentinelWaitEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", sentinelWaitEnv, err)
	}
	term, next := make(chan os.Signal, 1), make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	signal.Notify(next, syscall.SIGUSR1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	s, err := redisstore.New(ctx, redisstore.Config{
		URL:          os.Getenv(sentinelURLEnv),
		Prefix:       "partition:",
		WaitReplicas: wait,
		OpTimeout:    time.Second,
		WaitTimeout:  500 * time.Millisecond,
	})
	cancel()
	if err != nil {
		return err
	}
	defer s.Close()

	type written struct {
		tok   sessionkit.Token
		round int
	}
	var (
		mu      sync.Mutex
		st      = sentinelStatus{Rounds: make([]sentinelCounts, 1)}
		acked   []written
		unknown []written
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	create := func() {
		mu.Lock()
		w := written{tok: sessionkit.NewToken(), round: len(st.Rounds) - 1}
		mu.Unlock()
		now := time.Now()
		m := sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}
		_, err := s.Create(context.Background(), w.tok, sessionkit.Record{Meta: m, Values: map[string][]byte{"v": []byte("x")}})
		mu.Lock()
		defer mu.Unlock()
		c := &st.Rounds[w.round]
		switch {
		case err == nil:
			c.OK++
			st.LastOK = time.Now().UnixNano()
			acked = append(acked, w)
		case errors.Is(err, redisstore.ErrNotReplicated):
			c.NotReplicated++
			st.LastNR = time.Now().UnixNano()
			unknown = append(unknown, w)
		default:
			c.Failed++
			st.LastErr = err.Error()
			unknown = append(unknown, w)
		}
	}
	for range 4 {
		wg.Go(func() { tick.Every(stop, 5*time.Millisecond, func(time.Time) { create() }) })
	}
	report := func() error {
		mu.Lock()
		b, _ := json.Marshal(st)
		mu.Unlock()
		tmp := statusPath + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, statusPath)
	}
	ticker := time.NewTicker(50 * time.Millisecond)
	for running := true; running; {
		select {
		case <-term:
			running = false
		case <-next:
			mu.Lock()
			st.Rounds = append(st.Rounds, sentinelCounts{})
			mu.Unlock()
		case <-ticker.C:
		}
		if err := report(); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
	}
	ticker.Stop()
	close(stop)
	wg.Wait()

	// Load every session back, from eight goroutines; a load that fails
	// (not a miss) is retried until the deadline.
	check := func(ws []written, want bool, count func(*sentinelCounts) *int) error {
		next := make(chan written)
		errs := make(chan error, 8)
		var cwg sync.WaitGroup
		for range 8 {
			cwg.Go(func() {
				for w := range next {
					var found bool
					err := proc.WaitFor(20*time.Second, func() error {
						var err error
						_, found, err = s.Load(context.Background(), w.tok)
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					if found == want {
						mu.Lock()
						*count(&st.Rounds[w.round])++
						mu.Unlock()
					}
				}
			})
		}
		var err error
	feed:
		for _, w := range ws {
			select {
			case next <- w:
			case err = <-errs:
				break feed
			}
		}
		close(next)
		cwg.Wait()
		if err == nil {
			select {
			case err = <-errs:
			default:
			}
		}
		return err
	}
	if err := check(acked, false, func(c *sentinelCounts) *int { return &c.Lost }); err != nil {
		return fmt.Errorf("loading the acknowledged sessions back: %w", err)
	}
	if err := check(unknown, true, func(c *sentinelCounts) *int { return &c.UnknownPresent }); err != nil {
		return fmt.Errorf("loading the unknown sessions back: %w", err)
	}
	b, _ := json.Marshal(st)
	fmt.Printf("%s%s\n", sentinelSummaryPrefix, b)
	return nil
}

// readSentinelStatus reads a writer's status file.
func readSentinelStatus(path string) (sentinelStatus, error) {
	var st sentinelStatus
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}
