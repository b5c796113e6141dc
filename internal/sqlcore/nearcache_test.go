package sqlcore

import (
	"testing"
	"time"
)

func liveRow() row {
	now := time.Now()
	return row{created: now.UnixMilli(), idleDeadline: now.Add(time.Hour).UnixMilli(), deadline: now.Add(time.Hour).UnixMilli()}
}

// serving returns a cache whose listener has just heard a heartbeat.
func serving(cfg CacheConfig) *Cache {
	c := NewCache(cfg)
	c.Heard(time.Now())
	return c
}

func (c *Cache) version(id [32]byte) (int64, bool) {
	e, ok := c.get(id, time.Now())
	if !ok {
		return 0, false
	}
	return e.version, true
}

func TestCacheFill(t *testing.T) {
	id := [32]byte{1}
	vals := map[string][]byte{"a": {1}}
	c := NewCache(CacheConfig{})
	if f, _ := c.begin(id, time.Now()); f != nil {
		t.Fatal("a cache that heard no heartbeat began a fill")
	}
	c.Heard(time.Now())

	f, _ := c.begin(id, time.Now())
	c.finish(id, f, 3, liveRow(), vals)
	if v, ok := c.version(id); !ok || v != 3 {
		t.Fatalf("after a fill at 3: %d, %v", v, ok)
	}
	// An older record never replaces a newer one.
	f, _ = c.begin(id, time.Now())
	c.finish(id, f, 2, liveRow(), vals)
	if v, _ := c.version(id); v != 3 {
		t.Fatalf("a fill at 2 replaced 3: %d", v)
	}
	// A notification of the cached version (the process's own commit)
	// keeps the entry; a newer one drops it.
	c.Invalidate(id, 3)
	if v, ok := c.version(id); !ok || v != 3 {
		t.Fatalf("invalidation at the cached version dropped it: %d, %v", v, ok)
	}
	c.Invalidate(id, 4)
	if _, ok := c.version(id); ok {
		t.Fatal("invalidation at 4 kept version 3")
	}
	// A fill overtaken by a newer version, or by a deletion, installs
	// nothing.
	f, _ = c.begin(id, time.Now())
	c.Invalidate(id, 6)
	c.finish(id, f, 5, liveRow(), vals)
	if _, ok := c.version(id); ok {
		t.Fatal("a fill at 5 overtaken by 6 was installed")
	}
	f, _ = c.begin(id, time.Now())
	c.Invalidate(id, 6)
	c.finish(id, f, 6, liveRow(), vals)
	if v, ok := c.version(id); !ok || v != 6 {
		t.Fatalf("a fill at 6 that saw 6 notified: %d, %v", v, ok)
	}
	f, _ = c.begin(id, time.Now())
	c.Deleted(id)
	c.finish(id, f, 7, liveRow(), vals)
	if _, ok := c.version(id); ok {
		t.Fatal("a fill overtaken by a deletion was installed")
	}
	if len(c.fills) != 0 {
		t.Fatalf("%d fills left registered", len(c.fills))
	}
}

func TestCacheDownAndLate(t *testing.T) {
	id := [32]byte{2}
	c := serving(CacheConfig{MaxLag: time.Hour})
	f, _ := c.begin(id, time.Now())
	g, _ := c.begin(id, time.Now())
	c.finish(id, f, 1, liveRow(), map[string][]byte{})
	c.Down()
	if _, ok := c.version(id); ok {
		t.Fatal("served while the listener is down")
	}
	c.Heard(time.Now())
	c.finish(id, g, 2, liveRow(), map[string][]byte{}) // begun before Down
	if _, ok := c.version(id); ok {
		t.Fatal("a fill begun before the listener went down was installed")
	}

	// A heartbeat sent longer than MaxLag ago serves nothing, and the
	// entries are dropped.
	c = serving(CacheConfig{MaxLag: 50 * time.Millisecond})
	f, _ = c.begin(id, time.Now())
	c.finish(id, f, 1, liveRow(), map[string][]byte{})
	if _, ok := c.get(id, time.Now().Add(time.Second)); ok {
		t.Fatal("served a second after the last heartbeat was sent")
	}
	if n, _ := c.Len(); n != 0 {
		t.Fatalf("%d entries kept while late", n)
	}
}

func TestCacheBounds(t *testing.T) {
	c := serving(CacheConfig{MaxBytes: 1000, TTL: time.Hour, MaxLag: 24 * time.Hour})
	for i := range 20 {
		id := [32]byte{byte(i)}
		f, _ := c.begin(id, time.Now())
		c.finish(id, f, 1, liveRow(), map[string][]byte{"k": make([]byte, 100)})
	}
	n, size := c.Len()
	if size > 1000 || n == 0 {
		t.Fatalf("%d entries of %d bytes, bound 1000", n, size)
	}
	if _, ok := c.version([32]byte{19}); !ok {
		t.Fatal("the newest entry was evicted")
	}
	if _, ok := c.version([32]byte{0}); ok {
		t.Fatal("the oldest entry survived")
	}
	// Past its TTL, or past the session's deadline, an entry is not
	// served.
	id := [32]byte{19}
	if _, ok := c.get(id, time.Now().Add(2*time.Hour)); ok {
		t.Fatal("served past the TTL")
	}
	r := liveRow()
	r.idleDeadline = time.Now().Add(-time.Second).UnixMilli()
	id = [32]byte{30}
	f, _ := c.begin(id, time.Now())
	c.finish(id, f, 1, r, map[string][]byte{})
	if _, ok := c.version(id); ok {
		t.Fatal("an expired session was cached")
	}
}
