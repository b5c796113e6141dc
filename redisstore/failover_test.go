package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
)

// TestSentinelFailover kills the primary of a Sentinel group (SIGKILL)
// while four writers create sessions, lets Sentinel promote the replica,
// and counts the sessions whose Create was acknowledged but that the new
// primary does not hold. Replication is asynchronous, so without WAIT a
// few may be lost; with WaitReplicas=1 none may be.
func TestSentinelFailover(t *testing.T) {
	for _, wait := range []int{0, 1} {
		t.Run(fmt.Sprintf("WaitReplicas=%d", wait), func(t *testing.T) {
			t.Parallel()
			g := redistest.StartSentinel(t)
			s := open(t, g.URL(), redisstore.Config{WaitReplicas: wait, OpTimeout: time.Second, WaitTimeout: 500 * time.Millisecond})
			oldPrimary := g.Primary.Addr()

			var (
				mu       sync.Mutex
				acked    []sessionkit.Token
				failed   atomic.Int64
				notRepl  atomic.Int64
				stop     = make(chan struct{})
				wg       sync.WaitGroup
				lastOK   atomic.Int64 // UnixNano of the last acknowledged write
				lastNR   atomic.Int64 // UnixNano of the last ErrNotReplicated
				writeSeq atomic.Int64
			)
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						n := writeSeq.Add(1)
						now := time.Now()
						m := sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}
						tok := sessionkit.NewToken()
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
						_, err := s.Create(ctx, tok, sessionkit.Record{Meta: m, Values: map[string][]byte{"n": fmt.Append(nil, n)}})
						cancel()
						if err != nil {
							failed.Add(1)
							if errors.Is(err, redisstore.ErrNotReplicated) {
								notRepl.Add(1)
								lastNR.Store(time.Now().UnixNano())
							}
							time.Sleep(5 * time.Millisecond) // don't spin on a dead primary
							continue
						}
						lastOK.Store(time.Now().UnixNano())
						mu.Lock()
						acked = append(acked, tok)
						mu.Unlock()
					}
				})
			}
			defer func() {
				select {
				case <-stop:
				default:
					close(stop)
				}
				wg.Wait()
			}()

			count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
			if err := redistest.WaitFor(10*time.Second, func() error {
				if count() < 300 {
					return errors.New("fewer than 300 acknowledged writes")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			before := count()
			killed := time.Now()
			g.Primary.Kill()
			if err := redistest.WaitFor(20*time.Second, func() error {
				a, err := g.PrimaryAddr()
				if err != nil {
					return err
				}
				if a == oldPrimary {
					return errors.New("no failover yet")
				}
				return nil
			}); err != nil {
				t.Fatalf("failover: %v", err)
			}
			promoted := time.Since(killed)
			if wait == 0 {
				// Writes must succeed again on the new primary.
				if err := redistest.WaitFor(10*time.Second, func() error {
					if time.Unix(0, lastOK.Load()).Before(killed.Add(promoted)) {
						return errors.New("no acknowledged write since the failover")
					}
					return nil
				}); err != nil {
					t.Fatalf("after the failover: %v", err)
				}
			} else {
				// The new primary has no replica, so WAIT 1 refuses every
				// write now: wait until the client has reached it.
				if err := redistest.WaitFor(10*time.Second, func() error {
					if time.Unix(0, lastNR.Load()).Before(killed.Add(promoted)) {
						return errors.New("no write reached the new primary")
					}
					return nil
				}); err != nil {
					t.Fatalf("after the failover: %v", err)
				}
			}
			recovered := time.Since(killed)
			close(stop)
			wg.Wait()

			mu.Lock()
			all := append([]sessionkit.Token(nil), acked...)
			mu.Unlock()
			lost := 0
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for _, tok := range all {
				_, found, err := s.Load(ctx, tok)
				if err != nil {
					t.Fatalf("Load after the failover: %v", err)
				}
				if !found {
					lost++
				}
			}
			t.Logf("WaitReplicas=%d: %d writes acknowledged (%d before the kill), %d lost in the failover; %d failed (%d not replicated); promotion after %v, writes reached the new primary after %v",
				wait, len(all), before, lost, failed.Load(), notRepl.Load(), promoted.Round(time.Millisecond), recovered.Round(time.Millisecond))
			if wait > 0 && lost > 0 {
				t.Errorf("%d acknowledged writes lost with WaitReplicas=%d, want 0", lost, wait)
			}
		})
	}
}
