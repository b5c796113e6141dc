// Package tick runs the periodic work of sessionkit's background
// goroutines: the sweeps of expired sessions, the router's health checks.
package tick

import "time"

// Every calls fn with each tick's time, every interval, until stop is
// closed, and then returns; a call in progress is not interrupted.
func Every(stop <-chan struct{}, interval time.Duration, fn func(now time.Time)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			fn(now)
		}
	}
}
