package redisstore

import (
	"sync"
	"time"
)

// bypass remembers the session keys this store wrote recently, so that
// their loads skip the near cache: an invalidation travels asynchronously,
// even to the connection that wrote, and a load right after a write must
// see it. A key stays remembered for between window and twice window:
// two generations of sets, the older dropped at each rotation, so memory
// is bounded by the keys written in the last two windows.
type bypass struct {
	window time.Duration

	mu      sync.Mutex
	cur     map[string]struct{}
	prev    map[string]struct{}
	rotated time.Time
}

func newBypass(window time.Duration) *bypass {
	return &bypass{window: window, cur: map[string]struct{}{}, prev: map[string]struct{}{}, rotated: time.Now()}
}

// rotate moves to a new generation when a window has passed. b.mu is held.
func (b *bypass) rotate(now time.Time) {
	switch passed := now.Sub(b.rotated); {
	case passed >= 2*b.window:
		b.prev, b.cur = map[string]struct{}{}, map[string]struct{}{}
		b.rotated = now
	case passed >= b.window:
		b.prev, b.cur = b.cur, map[string]struct{}{}
		b.rotated = now
	}
}

// wrote remembers that key was just written.
func (b *bypass) wrote(key string) {
	b.mu.Lock()
	b.rotate(time.Now())
	b.cur[key] = struct{}{}
	b.mu.Unlock()
}

// active reports whether key was written recently.
func (b *bypass) active(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.cur) == 0 && len(b.prev) == 0 {
		return false
	}
	b.rotate(time.Now())
	_, c := b.cur[key]
	_, p := b.prev[key]
	return c || p
}
