package redisstore

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
)

// near is the store's own near cache, for a standalone server or a
// Sentinel group: a copy of recent sessions, each stamped with the version
// (field #n) Redis gave it, filled by loads and by the replies of the
// store's own writes, and emptied key by key by Redis's invalidations.
//
// Two connections serve it. The tracking connection runs CLIENT TRACKING
// with NOLOOP and REDIRECT to the invalidation connection: Redis remembers
// every key read on the tracking connection (by a command or inside a
// script), and pushes the name of such a key on the invalidation
// connection when any other connection changes it, once; the tracking
// connection's own writes push nothing. The store sends its session loads
// and writes through the tracking connection: every reply that fills an
// entry comes from a request that read the key there, so the key is
// tracked while its entry lives, and the store's own writes do not empty
// the entries their replies fill.
//
// The tracking connection receives no push messages, so rueidis sends a
// call on it and reads the reply on the caller's goroutine while calls
// come one at a time (they always carry a deadline, see Store.begin):
// no hand-off to a writer and a reader goroutine, which on a small
// machine costs about as much as the round trip itself. Calls that
// overlap make rueidis pipeline that connection from then on, as it does
// every connection. On that synchronous path rueidis does not watch the
// context's cancellation: a call runs to its reply or to its deadline,
// and a deadline that passes there closes the connection (see failed).
// So no call is sent when its context has ended or its deadline is less
// than sendMargin away.
//
// A fill is refused unless the tracking connection was up from before the
// request was sent until the fill, and no invalidation of the key arrived
// meanwhile (counted per stripe of keys, so a refusal may be spurious:
// then the entry is simply not filled). An entry is never replaced by one
// of a lower version. Losing either connection empties the cache and
// drops both: the invalidation connection's loss is seen at once (its
// reader ends), the tracking connection's by the call that finds it
// broken or, at the latest, by a PING on it every checkEvery while no
// call is on it (see watch). The next call that needs them opens others.
type near struct {
	client   rueidis.Client
	sentinel bool // the client follows a Sentinel group's primary
	ttl      time.Duration
	max      int
	seed     maphash.Seed
	log      *slog.Logger

	// calls is held for reading by every store call on the tracking
	// connection, and for writing by its check, which so never overlaps
	// a call (an overlap would make rueidis pipeline the connection
	// for good).
	calls   sync.RWMutex
	checks  atomic.Uint64 // checks of a tracking connection completed
	refused atomic.Bool   // a check had an error reply (logged once)

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	lru     list.List                // most recently used first
	bytes   int
	stripes [256]uint64             // invalidations received, per stripe of keys
	epoch   uint64                  // moves on every loss and every new tracking connection
	dc      rueidis.DedicatedClient // the tracking connection
	release func()                  // gives back dc, closes inv
	probe   chan struct{}           // asks dc's watcher to check dc now
	node    string                  // on Sentinel, the node(s) the client used when dc was taken
	checked atomic.Int64            // on Sentinel, when a call not writing last checked node (Unix ns)
	retryAt time.Time               // no new tracking connection before
	opening bool                    // a call is opening a tracking connection
	closed  bool
	wg      sync.WaitGroup // the watcher of the tracking connection, and an open under way
}

type entry struct {
	key     string
	rec     sessionkit.Record // never modified once filled
	ver     uint64
	expires time.Time
	size    int
}

// snap is what a fill checks against: the tracking connection's epoch and
// the key's stripe when the request was sent. ok is false when there was no
// tracking connection.
type snap struct {
	epoch, stripe uint64
	ok            bool
}

func newNear(client rueidis.Client, cfg *NearCache, log *slog.Logger) *near {
	return &near{client: client, sentinel: client.Mode() == rueidis.ClientModeSentinel, ttl: cfg.TTL, max: cfg.SizeBytes, seed: maphash.MakeSeed(), log: log, entries: map[string]*list.Element{}}
}

func (n *near) stripe(key string) int {
	return int(maphash.String(n.seed, key) % uint64(len(n.stripes)))
}

// get returns the entry of key, if it is cached, live and within its TTL.
func (n *near) get(key string) (sessionkit.Record, uint64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	el, ok := n.entries[key]
	if !ok || n.dc == nil {
		return sessionkit.Record{}, 0, false
	}
	e := el.Value.(*entry)
	if now := time.Now(); now.After(e.expires) || e.rec.Expired(now) {
		n.drop(el)
		return sessionkit.Record{}, 0, false
	}
	n.lru.MoveToFront(el)
	return e.rec, e.ver, true
}

// fill caches rec at version ver for key, unless an invalidation or a loss
// of the tracking connection came after s, or the cache holds a later
// version (or the same version with a later idle deadline). A fill refused
// for any other reason drops the key's entry: the store's own writes go
// over the tracking connection, which Redis does not notify of them, so
// an entry left in place after a refused fill of a write's result would
// be served stale until its TTL.
//
// A fill at the entry's own version (a touch) keeps the entry's expiry:
// the TTL bounds the age of what the entry was read from, however often
// the session is touched.
func (n *near) fill(key string, rec sessionkit.Record, ver uint64, s snap) {
	size := len(key) + 128
	for k, v := range rec.Values {
		size += len(k) + len(v) + 48
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	expires := time.Now().Add(n.ttl)
	el, has := n.entries[key]
	if has {
		old := el.Value.(*entry)
		if old.ver > ver || old.ver == ver && old.rec.IdleDeadline.After(rec.IdleDeadline) {
			return
		}
		if old.ver == ver {
			expires = old.expires
		}
		n.drop(el)
	}
	if !s.ok || n.dc == nil || n.epoch != s.epoch || n.stripes[n.stripe(key)] != s.stripe || size > n.max {
		return
	}
	n.entries[key] = n.lru.PushFront(&entry{key: key, rec: rec, ver: ver, expires: expires, size: size})
	n.bytes += size
	for n.bytes > n.max {
		n.drop(n.lru.Back())
	}
}

// forget drops key's entry: the store changed the session in a way it does
// not follow (a delete, a renew, a write whose reply it could not apply).
func (n *near) forget(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stripes[n.stripe(key)]++
	if el, ok := n.entries[key]; ok {
		n.drop(el)
	}
}

// drop removes an entry. n.mu is held.
func (n *near) drop(el *list.Element) {
	e := n.lru.Remove(el).(*entry)
	delete(n.entries, e.key)
	n.bytes -= e.size
}

// flush empties the cache. n.mu is held.
func (n *near) flush() {
	clear(n.entries)
	n.lru.Init()
	n.bytes = 0
}

// invalidate is the invalidation hook of the tracking connection dc's
// invalidation connection: keys is nil when Redis flushed its data or the
// connection ended. A hook of a pair of connections no longer current is
// ignored: the pair's loss has emptied the cache already, and the cache
// now follows another pair.
func (n *near) invalidate(dc rueidis.DedicatedClient, keys []rueidis.RedisMessage) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dc != dc {
		return
	}
	if keys == nil {
		n.epoch++
		n.flush()
		return
	}
	for _, m := range keys {
		k, err := m.ToString()
		if err != nil {
			continue
		}
		n.stripes[n.stripe(k)]++
		if el, ok := n.entries[k]; ok {
			n.drop(el)
		}
	}
}

// conn returns the tracking connection and the snapshot of key taken on
// it, opening the connection when there is none; nil when it cannot be
// opened now (the caller then writes through the pool, and fills nothing).
// One call at a time opens a connection: the others meanwhile go without.
//
// On Sentinel, the tracking connection follows the client's primary: once
// rueidis has switched to another one, the connection, still on the
// previous node, is dropped (rueidis closes only the idle connections of
// the node it left, and a node cut off from the sentinels may still take
// writes that the group will lose). A call for a write (write) checks
// every time; the others at most every followEvery, as the check costs a
// few allocations, about a third of a cache hit.
func (n *near) conn(ctx context.Context, key string, write bool) (rueidis.DedicatedClient, snap) {
	var node string
	check := n.sentinel && (write || n.due())
	if check {
		node = n.nodes()
	}
	n.mu.Lock()
	if check && n.dc != nil && n.node != node {
		dc := n.dc
		n.mu.Unlock()
		n.broken(dc)
		n.mu.Lock()
	}
	if n.dc != nil || n.closed || n.opening || time.Now().Before(n.retryAt) {
		defer n.mu.Unlock()
		return n.dc, snap{epoch: n.epoch, stripe: n.stripes[n.stripe(key)], ok: n.dc != nil}
	}
	n.opening = true
	n.wg.Add(1)
	n.mu.Unlock()
	err := n.open(ctx)
	n.mu.Lock()
	n.opening = false
	n.retryAt = time.Now().Add(100 * time.Millisecond) // at most ten attempts a second
	n.mu.Unlock()
	n.wg.Done()
	if err != nil {
		return nil, snap{}
	}
	return n.conn(ctx, key, write)
}

// open sets up a tracking connection and its invalidation connection.
// Only one call runs at a time (see conn).
func (n *near) open(ctx context.Context) error {
	var node string
	if n.sentinel {
		node = n.nodes() // before Dedicate: a switch between the two drops dc at once
	}
	// inv is closed rather than given back: its invalidation hook made
	// rueidis start its writer and reader goroutines, for good, and the
	// pool must not hand it out as another tracking connection.
	inv, _, err := dedicate(ctx, n.client)
	if err != nil {
		return err
	}
	dc, dcRelease, err := dedicate(ctx, n.client)
	if err != nil {
		inv.Close()
		return err
	}
	errs := inv.SetOnInvalidations(func(keys []rueidis.RedisMessage) { n.invalidate(dc, keys) })
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		dc.Do(ctx, dc.B().Arbitrary("CLIENT", "TRACKING").Args("OFF").Build())
		cancel()
		dcRelease()
		inv.Close()
	}
	id, err := inv.Do(ctx, inv.B().ClientId().Build()).AsInt64()
	if err != nil {
		release()
		return err
	}
	b := dc.B()
	res := dc.DoMulti(ctx,
		b.Arbitrary("CLIENT", "TRACKING").Args("OFF").Build(),
		b.Arbitrary("CLIENT", "TRACKING").Args("ON", "REDIRECT", strconv.FormatInt(id, 10), "NOLOOP").Build())
	if err := firstErr(res); err != nil {
		release()
		return err
	}
	probe := make(chan struct{}, 1)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		release()
		return errors.New("closed")
	}
	n.epoch++
	n.flush()
	n.dc, n.release, n.node, n.probe = dc, release, node, probe
	n.wg.Add(1)
	n.mu.Unlock()
	go n.watch(dc, errs, probe)
	return nil
}

// dedicate takes a connection of client's pool for good, waiting no
// longer than ctx allows: rueidis's Dedicate waits for one without limit
// when the pool is exhausted. A connection that comes after ctx ended is
// given back.
func dedicate(ctx context.Context, client rueidis.Client) (rueidis.DedicatedClient, func(), error) {
	type taken struct {
		dc      rueidis.DedicatedClient
		release func()
	}
	ch := make(chan taken, 1)
	go func() {
		dc, release := client.Dedicate()
		ch <- taken{dc, release}
	}()
	select {
	case t := <-ch:
		return t.dc, t.release, nil
	case <-ctx.Done():
		go func() { (<-ch).release() }()
		return nil, nil, ctx.Err()
	}
}

// followEvery is how often a call that does not write checks, on
// Sentinel, that the tracking connection is on the client's primary.
const followEvery = 100 * time.Millisecond

// due reports whether a call that does not write should check the
// tracking connection's node: one call per followEvery does.
func (n *near) due() bool {
	now, last := time.Now().UnixNano(), n.checked.Load()
	return dueAt(now, last) && n.checked.CompareAndSwap(last, now)
}

// dueAt reports whether a check made at last is due again at now.
func dueAt(now, last int64) bool { return now-last >= int64(followEvery) }

// hit returns key's entry, as get does, unless on Sentinel a check of the
// primary is due: conn makes that check, on the way to the server.
func (n *near) hit(key string) (sessionkit.Record, bool) {
	if n.sentinel && dueAt(time.Now().UnixNano(), n.checked.Load()) {
		return sessionkit.Record{}, false
	}
	rec, _, ok := n.get(key)
	return rec, ok
}

// nodes names the node(s) the client sends commands to: on Sentinel, the
// primary (and the replica when some commands go to replicas).
func (n *near) nodes() string {
	names := make([]string, 0, 2)
	for a := range n.client.Nodes() {
		names = append(names, a)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// checkEvery is how often the watcher of a tracking connection checks it
// while no call is on it.
const checkEvery = 25 * time.Millisecond

// sendMargin is how much time a context must have left for a call to be
// sent on the tracking connection: a deadline that passes during the call
// closes the connection.
const sendMargin = time.Millisecond

// enter prepares a call on the tracking connection: it returns ctx's
// error, sending nothing, when ctx has ended or its deadline is less than
// sendMargin away, and otherwise keeps the connection's check off it
// until leave.
func (n *near) enter(ctx context.Context) error {
	n.calls.RLock()
	if err := ctx.Err(); err != nil {
		n.calls.RUnlock()
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < sendMargin {
		n.calls.RUnlock()
		return context.DeadlineExceeded
	}
	return nil
}

// leave ends a call that enter let through.
func (n *near) leave() { n.calls.RUnlock() }

// watch waits for the end of the invalidation connection, whose errors
// are errs, and then forgets both connections. Meanwhile it checks the
// tracking connection dc every checkEvery, and at once when probe asks,
// with a PING on dc itself, when no call is on dc: nothing reads that
// connection between calls, and a tracking connection lost while the
// store only serves hits would leave entries that no invalidation
// reaches. Redis pushes nothing to the invalidation connection when the
// tracking one goes, and CLIENT LIST, which could tell, needs
// administrative rights.
func (n *near) watch(dc rueidis.DedicatedClient, errs <-chan error, probe <-chan struct{}) {
	defer n.wg.Done()
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	for {
		select {
		case _, ok := <-errs:
			if !ok {
				n.broken(dc)
				return
			}
		case <-tick.C:
		case <-probe:
		}
		n.mu.Lock()
		current := n.dc == dc
		n.mu.Unlock()
		if !current {
			for range errs {
			}
			return
		}
		n.check(dc)
	}
}

// check sends a PING on the tracking connection dc, unless a call is on
// it (that call finds a lost connection itself), and drops dc when no
// reply comes: any reply, an error too, shows the connection and its
// tracking still up.
func (n *near) check(dc rueidis.DedicatedClient) {
	if !n.calls.TryLock() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), followEvery)
	err := dc.Do(ctx, dc.B().Ping().Build()).Error()
	cancel()
	n.calls.Unlock()
	n.checks.Add(1)
	if _, ok := rueidis.IsRedisErr(err); ok {
		if n.refused.CompareAndSwap(false, true) {
			n.log.Warn("redisstore: near cache: the tracking connection's PING had an error reply; taken as the connection being up (logged once)", "err", err)
		}
		return
	}
	if err != nil {
		n.broken(dc)
	}
}

// broken forgets the tracking connection dc, if it is still the current
// one, and empties the cache: invalidations may have been missed.
func (n *near) broken(dc rueidis.DedicatedClient) {
	n.mu.Lock()
	if n.dc != dc {
		n.mu.Unlock()
		return
	}
	release := n.release
	n.dc, n.release, n.probe = nil, nil, nil
	n.epoch++
	n.flush()
	n.wg.Add(1) // the watcher of dc holds the group until inv is released
	n.mu.Unlock()
	go func() {
		// Off the caller's path: turning tracking off takes a round
		// trip.
		defer n.wg.Done()
		release()
	}()
}

// failed handles err, the first error of a request sent over the
// tracking connection dc, and reports whether the request should be sent
// again through the pool: when dc was recycled before the request went
// out (another request dropped it), and, for reads only, when dc itself
// failed. A failure of the connection, or a reply meaning the server is
// no longer a usable primary, drops dc; an error reply about the request
// (OOM, a script error) does not. The request's deadline passing may be
// either: on rueidis's synchronous path it closes the connection, and
// with it Redis's tracking, while a pipelined connection stays up. So it
// asks dc's watcher to check dc at once rather than dropping it.
func (n *near) failed(dc rueidis.DedicatedClient, err error, read bool) (again bool) {
	switch {
	case errors.Is(err, rueidis.ErrDedicatedClientRecycled):
		n.broken(dc)
		return true
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		n.mu.Lock()
		if n.dc == dc {
			select {
			case n.probe <- struct{}{}:
			default:
			}
		}
		n.mu.Unlock()
		return false
	}
	if e, ok := rueidis.IsRedisErr(err); ok {
		msg := e.Error()
		if !e.IsLoading() && !strings.HasPrefix(msg, "READONLY") && !strings.HasPrefix(msg, "MASTERDOWN") {
			return false
		}
	}
	n.broken(dc)
	return read
}

// close releases the connections and waits for their watcher, and for an
// open under way (which then releases what it opened).
func (n *near) close() {
	n.mu.Lock()
	n.closed = true
	dc := n.dc
	n.mu.Unlock()
	if dc != nil {
		n.broken(dc)
	}
	n.wg.Wait()
}

// version returns the version in a session's fields (0 for a session
// written before versions).
func version(fields map[string]string) uint64 {
	v, _ := strconv.ParseUint(fields[fieldVersionN], 10, 64)
	return v
}

// msTime is t as the store keeps it: Unix milliseconds.
func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// stored returns m as a load would read it back: times in milliseconds.
func stored(m sessionkit.Meta) sessionkit.Meta {
	m.Created = msTime(m.Created)
	m.Deadline = msTime(m.Deadline)
	m.IdleTimeout = m.IdleTimeout.Truncate(time.Millisecond)
	return m
}

// idleUntil is the key's expiry a write with the idle deadline idle sets:
// the earlier of it and the absolute deadline.
func idleUntil(idle, deadline time.Time) time.Time {
	if deadline.Before(idle) {
		return msTime(deadline)
	}
	return msTime(idle)
}

// created returns the record a load reads back after Create wrote rec.
func created(rec sessionkit.Record) sessionkit.Record {
	out := sessionkit.Record{Meta: stored(rec.Meta), Values: make(map[string][]byte, len(rec.Values))}
	out.IdleDeadline = idleUntil(rec.IdleDeadline, out.Deadline)
	for k, v := range rec.Values {
		out.Values[k] = bytes.Clone(v)
	}
	return out
}

// applied returns the record a load reads back after the commit of d to
// base: the keys set, then the keys deleted, as the commit script does.
// base is not modified.
func applied(base sessionkit.Record, d *sessionkit.Delta) sessionkit.Record {
	out := base
	if d.Meta != nil {
		out.Meta = stored(*d.Meta)
	}
	out.IdleDeadline = idleUntil(d.IdleDeadline, out.Deadline)
	out.Values = make(map[string][]byte, len(base.Values)+len(d.Set))
	for k, v := range base.Values {
		out.Values[k] = v
	}
	for _, e := range d.Set {
		out.Values[e.Key] = bytes.Clone(e.Value)
	}
	for _, k := range d.Deleted {
		delete(out.Values, k)
	}
	return out
}
