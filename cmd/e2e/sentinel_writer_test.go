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

// sentinelStatus is what the writer reports while it runs, in its status
// file (rewritten every 50 ms), for the test to wait on.
type sentinelStatus struct {
	OK            int64 // acknowledged creates
	NotReplicated int64 // creates that failed with ErrNotReplicated
	Failed        int64 // other failed creates
	LastOK        int64 // UnixNano of the last acknowledged create
	LastNR        int64 // UnixNano of the last ErrNotReplicated
	LastErr       string
}

// sentinelSummary is what the writer prints when it stops: its counts and
// the outcome of loading back every session it wrote.
type sentinelSummary struct {
	sentinelStatus
	Lost           int // acknowledged, then not found
	UnknownPresent int // failed (an unknown outcome), yet found
}

// sentinelWriter creates sessions through redisstore, as a node of the
// product would, from four goroutines, each at most one every 5 ms, until
// SIGTERM. Then it loads every session back through the same store (which
// has lived through the failover) and prints a sentinelSummary line. A
// create that fails is an unknown: the primary may hold it.
func sentinelWriter(statusPath string) error {
	wait, err := strconv.Atoi(os.Getenv(sentinelWaitEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", sentinelWaitEnv, err)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
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

	var (
		mu      sync.Mutex
		st      sentinelStatus
		acked   []sessionkit.Token
		unknown []sessionkit.Token
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	create := func() {
		tok := sessionkit.NewToken()
		now := time.Now()
		m := sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}
		_, err := s.Create(context.Background(), tok, sessionkit.Record{Meta: m, Values: map[string][]byte{"v": []byte("x")}})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			st.OK++
			st.LastOK = time.Now().UnixNano()
			acked = append(acked, tok)
		case errors.Is(err, redisstore.ErrNotReplicated):
			st.NotReplicated++
			st.LastNR = time.Now().UnixNano()
			unknown = append(unknown, tok)
		default:
			st.Failed++
			st.LastErr = err.Error()
			unknown = append(unknown, tok)
		}
	}
	for range 4 {
		wg.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					create()
				}
			}
		})
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
	tick := time.NewTicker(50 * time.Millisecond)
	for running := true; running; {
		select {
		case <-term:
			running = false
		case <-tick.C:
		}
		if err := report(); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()

	// Load every session back, from eight goroutines; a load that fails
	// (not a miss) is retried until the deadline.
	sum := sentinelSummary{sentinelStatus: st}
	var lost, present int
	check := func(toks []sessionkit.Token, count *int, want bool) error {
		next := make(chan sessionkit.Token)
		errs := make(chan error, 8)
		var cwg sync.WaitGroup
		for range 8 {
			cwg.Go(func() {
				for tok := range next {
					var found bool
					err := proc.WaitFor(20*time.Second, func() error {
						var err error
						_, found, err = s.Load(context.Background(), tok)
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					if found == want {
						mu.Lock()
						*count++
						mu.Unlock()
					}
				}
			})
		}
		var err error
	feed:
		for _, tok := range toks {
			select {
			case next <- tok:
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
	if err := check(acked, &lost, false); err != nil {
		return fmt.Errorf("loading the acknowledged sessions back: %w", err)
	}
	if err := check(unknown, &present, true); err != nil {
		return fmt.Errorf("loading the unknown sessions back: %w", err)
	}
	sum.Lost, sum.UnknownPresent = lost, present
	b, _ := json.Marshal(sum)
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
