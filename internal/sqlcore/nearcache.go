package sqlcore

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit"
)

// CacheConfig sizes a Cache. The zero value is the default; each field's
// comment states its default.
type CacheConfig struct {
	// MaxBytes bounds the size of the cached sessions (keys, values and
	// a fixed overhead per session); the oldest entries are evicted
	// first. Default 64 MiB.
	MaxBytes int64

	// TTL is how long an entry is served before it is read from the
	// database again. Default 1 minute.
	TTL time.Duration

	// MaxLag is how old the last heartbeat that came back may be: the
	// cache serves a session only while the newest heartbeat its
	// listener received was sent less than MaxLag ago, and is emptied
	// once it is older. Default 300 ms.
	MaxLag time.Duration
}

func (c *CacheConfig) setDefaults() {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	if c.TTL <= 0 {
		c.TTL = time.Minute
	}
	if c.MaxLag <= 0 {
		c.MaxLag = 300 * time.Millisecond
	}
}

// Cache is a near cache of sessions in front of a Store, kept in step with
// the database by a listener that the dialect runs: the listener reports
// every write of another process (Invalidate, Deleted), the heartbeats that
// come back through the server (Heard), and its own failures (Down).
//
// Entries carry the row's version, which every write of data or metadata
// moves by one; of two records of a session the higher version wins. A
// fill (a load, or a commit's result) registers before its statement runs;
// an invalidation that arrives meanwhile for a newer version (or a
// deletion) cancels it, so that a fill never installs a record older than
// one the listener has already reported. Invalidations arrive in the order
// of the commits, and a heartbeat comes back after every commit
// acknowledged before it was sent: an entry served while the newest
// heartbeat was sent at most MaxLag ago reflects every commit acknowledged
// before then.
//
// Its methods are safe for concurrent use.
type Cache struct {
	cfg  CacheConfig
	base time.Time // the origin of heard, monotonic

	// heard is when (nanoseconds after base) the newest heartbeat that
	// came back was sent; 0 while the listener is down.
	heard atomic.Int64

	mu      sync.Mutex
	entries map[[32]byte]*entry
	order   list.List // of *entry, oldest first
	bytes   int64
	epoch   uint64 // moved by every emptying: fills begun before are refused
	fills   map[[32]byte][]*fill
}

// entry is one cached session, never modified once installed.
type entry struct {
	id      [32]byte
	version int64
	row     row
	values  map[string][]byte
	rec     sessionkit.Record // what Load returns: row and values
	size    int64
	born    time.Time
	elem    *list.Element
}

// fill is a record on its way into the cache.
type fill struct {
	epoch   uint64
	seen    int64 // the highest version reported meanwhile
	deleted bool  // a deletion was reported meanwhile
}

// NewCache returns an empty cache, which serves nothing until the first
// heartbeat is heard.
func NewCache(cfg CacheConfig) *Cache {
	cfg.setDefaults()
	return &Cache{cfg: cfg, base: time.Now(), entries: map[[32]byte]*entry{}, fills: map[[32]byte][]*fill{}}
}

func (c *Cache) since(t time.Time) int64 { return max(int64(t.Sub(c.base)), 1) }

// fresh reports whether the listener is up and its newest heartbeat was
// sent less than MaxLag before now.
func (c *Cache) fresh(now time.Time) bool {
	h := c.heard.Load()
	return h != 0 && c.since(now)-h < int64(c.cfg.MaxLag)
}

// get returns the cached session id names, if it is cached, fresh and
// unexpired at now. A late listener empties the cache.
func (c *Cache) get(id [32]byte, now time.Time) (*entry, bool) {
	if !c.fresh(now) {
		c.empty(true)
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[id]
	if e == nil {
		return nil, false
	}
	if now.Sub(e.born) >= c.cfg.TTL || e.row.expired(now) {
		c.remove(e)
		return nil, false
	}
	return e, true
}

// begin registers a fill of id, and returns it with the cached entry (nil
// when there is none). The fill is nil while the cache cannot be filled.
func (c *Cache) begin(id [32]byte, now time.Time) (*fill, *entry) {
	if !c.fresh(now) {
		c.empty(true)
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f := &fill{epoch: c.epoch}
	c.fills[id] = append(c.fills[id], f)
	e := c.entries[id]
	if e != nil && (now.Sub(e.born) >= c.cfg.TTL || e.row.expired(now)) {
		c.remove(e)
		e = nil
	}
	return f, e
}

// finish ends a fill of id; with values not nil it installs the record at
// version unless the fill was overtaken meanwhile.
func (c *Cache) finish(id [32]byte, f *fill, version int64, r row, values map[string][]byte) {
	if f == nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.fills[id]
	for i, g := range fs {
		if g == f {
			fs[i] = fs[len(fs)-1]
			fs = fs[:len(fs)-1]
			break
		}
	}
	if len(fs) == 0 {
		delete(c.fills, id)
	} else {
		c.fills[id] = fs
	}
	if values == nil || f.epoch != c.epoch || f.deleted || version < f.seen || !c.fresh(now) || r.expired(now) {
		return
	}
	if old := c.entries[id]; old != nil {
		if old.version > version {
			return
		}
		c.remove(old)
	}
	size := int64(96 + len(r.principal))
	for k, v := range values {
		size += int64(32 + len(k) + len(v))
	}
	if size > c.cfg.MaxBytes {
		return
	}
	e := &entry{id: id, version: version, row: r, values: values, size: size, born: now,
		rec: sessionkit.Record{Meta: r.meta(), Values: values}}
	e.elem = c.order.PushBack(e)
	c.entries[id] = e
	c.bytes += size
	for c.bytes > c.cfg.MaxBytes {
		c.remove(c.order.Front().Value.(*entry))
	}
}

// remove drops an entry; c.mu is held.
func (c *Cache) remove(e *entry) {
	c.order.Remove(e.elem)
	delete(c.entries, e.id)
	c.bytes -= e.size
}

// Invalidate reports that a commit moved the session id to version.
func (c *Cache) Invalidate(id [32]byte, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.fills[id] {
		f.seen = max(f.seen, version)
	}
	if e := c.entries[id]; e != nil && e.version < version {
		c.remove(e)
	}
}

// Deleted reports that the session id was deleted, moved to another token
// or replaced: whatever is cached or on its way in is dropped.
func (c *Cache) Deleted(id [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.fills[id] {
		f.deleted = true
	}
	if e := c.entries[id]; e != nil {
		c.remove(e)
	}
}

// Heard reports that a heartbeat sent at sent came back: every commit
// acknowledged before sent has been reported. A heartbeat that comes back
// late empties the cache first.
func (c *Cache) Heard(sent time.Time) {
	prev := c.heard.Load()
	if prev == 0 || c.since(time.Now())-prev >= int64(c.cfg.MaxLag) {
		c.empty(false)
	}
	if s := c.since(sent); s > prev {
		c.heard.Store(s)
	}
}

// Flush reports that every session may have changed at once (the table
// was truncated): the cache is emptied, and fills begun before are
// refused, but the listener is still up.
func (c *Cache) Flush() {
	c.empty(false)
}

// Down reports that the listener lost its connection: the cache is
// emptied and stays empty until a heartbeat is heard again.
func (c *Cache) Down() {
	c.heard.Store(0)
	c.empty(false)
}

// empty drops every entry and refuses the fills begun before. With
// lazily, it does nothing when there is nothing to drop.
func (c *Cache) empty(lazily bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lazily && len(c.entries) == 0 {
		return
	}
	c.epoch++
	clear(c.entries)
	c.order.Init()
	c.bytes = 0
}

// Len returns the number of cached sessions and their size in bytes.
func (c *Cache) Len() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes
}

// Cached returns the version of the session t names in s's near cache, and
// whether it is cached (and would be served now), for tests that watch
// invalidations arrive.
func Cached(s *Store, t sessionkit.Token) (version int64, ok bool) {
	if s.near == nil {
		return 0, false
	}
	e, ok := s.near.get(t.Hash(), time.Now())
	if !ok {
		return 0, false
	}
	return e.version, true
}
