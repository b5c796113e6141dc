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
	// Two ticks, each with its time. Their order is not checked: a
	// ticker's times are taken when the runtime fires it, and two late
	// fires may carry times out of order.
	for range 2 {
		if now := <-calls; now.IsZero() {
			t.Error("a tick without its time")
		}
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
