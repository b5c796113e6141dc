package tick

import (
	"testing"
	"time"
)

func TestEveryRunsUntilStopped(t *testing.T) {
	stop := make(chan struct{})
	calls := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(stop, time.Millisecond, func(now time.Time) { calls <- now })
	}()
	first, second := <-calls, <-calls
	if !second.After(first) {
		t.Errorf("ticks %v then %v: not in order", first, second)
	}
	close(stop)
	for {
		select {
		case <-calls: // a tick that fired before the stop
		case <-done:
			return
		case <-time.After(10 * time.Second):
			t.Fatal("Every did not return after stop was closed")
		}
	}
}
