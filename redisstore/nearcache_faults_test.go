package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
)

func newNearStore(t *testing.T, url string, nc NearCache) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, Config{URL: url, Prefix: "t" + string(sessionkit.NewToken())[:8] + ":", NearCache: &nc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func createSession(t *testing.T, s *Store, values map[string][]byte) sessionkit.Token {
	t.Helper()
	now := time.Now()
	tok, err := s.Create(context.Background(), sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)},
		Values: values,
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return tok
}

func loadValue(t *testing.T, s *Store, tok sessionkit.Token, name string) string {
	t.Helper()
	rec, found, err := s.Load(context.Background(), tok)
	if err != nil || !found {
		t.Fatalf("Load: found %v, %v", found, err)
	}
	return string(rec.Values[name])
}

func commitValue(t *testing.T, s *Store, tok sessionkit.Token, name, value string) {
	t.Helper()
	d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: name, Value: []byte(value)}}, IdleDeadline: time.Now().Add(time.Hour)}
	if _, err := s.Commit(context.Background(), tok, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestNearCacheOversizedCommit commits a value too large for the cache
// over a cached session: the fill is refused, and the next load must not
// be served the entry from before the commit.
func TestNearCacheOversizedCommit(t *testing.T) {
	srv := redistest.Start(t)
	s := newNearStore(t, srv.URL(), NearCache{SizeBytes: 4096})
	tok := createSession(t, s, map[string][]byte{"a": []byte("small")})
	if got := loadValue(t, s, tok, "a"); got != "small" {
		t.Fatalf("a = %q", got)
	}
	big := strings.Repeat("x", 8000)
	commitValue(t, s, tok, "a", big)
	if got := loadValue(t, s, tok, "a"); got != big {
		t.Fatalf("after the commit of 8000 bytes, Load returned %d bytes", len(got))
	}
}

// TestNearCacheRefusedFillDropsEntry moves the stripe of the session's
// key (by forgetting other keys of the same stripe) while loads and
// commits alternate: a commit whose fill is refused must not leave the
// entry from before it.
func TestNearCacheRefusedFillDropsEntry(t *testing.T) {
	srv := redistest.Start(t)
	s := newNearStore(t, srv.URL(), NearCache{})
	tok := createSession(t, s, map[string][]byte{"a": []byte("0")})
	key, _ := s.sessionKey(tok)
	var other string
	for other == "" {
		k, _ := s.sessionKey(sessionkit.NewToken())
		if s.near.stripe(k) == s.near.stripe(key) {
			other = k
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				s.near.forget(other)
			}
		}
	}()
	defer wg.Wait()
	defer close(stop)
	for i := 1; i <= 300; i++ {
		loadValue(t, s, tok, "a")
		commitValue(t, s, tok, "a", strconv.Itoa(i))
		if got := loadValue(t, s, tok, "a"); got != strconv.Itoa(i) {
			t.Fatalf("commit %d: Load returned a = %q", i, got)
		}
	}
}

// TestNearCacheTouchKeepsTTL makes the cached entry stale for certain (a
// write over the tracking connection, of which Redis tells it nothing)
// and touches the session more often than the TTL: once the entry is
// older than the TTL it must not be served.
func TestNearCacheTouchKeepsTTL(t *testing.T) {
	srv := redistest.Start(t)
	const ttl = 500 * time.Millisecond
	s := newNearStore(t, srv.URL(), NearCache{TTL: ttl})
	ctx := context.Background()
	tok := createSession(t, s, map[string][]byte{"a": []byte("old")})
	filled := time.Now() // the entry's fill came before this
	key, _ := s.sessionKey(tok)
	s.near.mu.Lock()
	dc := s.near.dc
	s.near.mu.Unlock()
	if err := dc.Do(ctx, dc.B().Hset().Key(key).FieldValue().FieldValue(field("a"), "new").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got := loadValue(t, s, tok, "a"); got != "old" {
		t.Fatalf("the entry is not stale: a = %q", got)
	}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for range 5 {
		<-tick.C
		if _, err := s.Touch(ctx, tok, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		got := loadValue(t, s, tok, "a")
		if time.Since(filled) > ttl && got != "new" {
			t.Fatalf("%v after the fill, with a TTL of %v, Load served a = %q", time.Since(filled).Round(time.Millisecond), ttl, got)
		}
	}
}

// latencyProxy forwards TCP connections to addr, holding each chunk of
// the server's replies for delay before passing it on. It returns its own
// address.
func latencyProxy(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			wg.Add(2)
			go func() {
				defer wg.Done()
				io.Copy(u, c)
				u.Close()
			}()
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := u.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestNearCacheOpenOnce sends loads, 150 ms apart, to a fresh store whose
// server answers 80 ms late, so that opening the tracking connection
// takes longer than the pause between two attempts: the store must not
// open a second tracking connection meanwhile (one it would lose track
// of), and Close must return.
func TestNearCacheOpenOnce(t *testing.T) {
	srv := redistest.Start(t)
	addr := latencyProxy(t, srv.Addr(), 80*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, Config{URL: "redis://" + addr, NearCache: &NearCache{}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range 3 {
		if i > 0 {
			time.Sleep(150 * time.Millisecond) // the scenario: loads 150 ms apart, while the first open is under way
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := s.Load(ctx, sessionkit.NewToken()); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Load: %v", err)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10 s")
	}
}

// TestNearCacheCanceledLoadKeepsCache cancels a load while its request is
// on the tracking connection (the server answers 200 ms late): the
// connection is sound, and another session's entry must still be served.
func TestNearCacheCanceledLoadKeepsCache(t *testing.T) {
	srv := redistest.Start(t)
	addr := latencyProxy(t, srv.Addr(), 200*time.Millisecond)
	s := newNearStore(t, "redis://"+addr, NearCache{})
	a := createSession(t, s, map[string][]byte{"a": []byte("1")})
	b := createSession(t, s, map[string][]byte{"b": []byte("1")})
	s.near.forget(s.keyOf(b))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, _, err := s.Load(ctx, b); err == nil {
		t.Fatal("the canceled Load succeeded")
	}
	before := s.Stats()
	loadValue(t, s, a, "a")
	if got := s.Stats(); got.CacheHits != before.CacheHits+1 {
		t.Fatalf("stats %+v, then %+v: the other session's entry is gone", before, got)
	}
}

// TestNearCacheErrorReplyKeepsCache makes a commit fail with an error
// reply (OOM): the tracking connection is sound, and another session's
// entry must still be served.
func TestNearCacheErrorReplyKeepsCache(t *testing.T) {
	srv := redistest.Start(t)
	s := newNearStore(t, srv.URL(), NearCache{})
	a := createSession(t, s, map[string][]byte{"a": []byte("1")})
	b := createSession(t, s, map[string][]byte{"b": []byte("1")})
	for _, args := range [][]string{{"CONFIG", "SET", "maxmemory-policy", "noeviction"}, {"CONFIG", "SET", "maxmemory", "1"}} {
		if _, err := redistest.Do(srv.Addr(), args...); err != nil {
			t.Fatal(err)
		}
	}
	d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "b", Value: []byte("2")}}, IdleDeadline: time.Now().Add(time.Hour)}
	_, err := s.Commit(context.Background(), b, d)
	if _, err := redistest.Do(srv.Addr(), "CONFIG", "SET", "maxmemory", "0"); err != nil {
		t.Fatal(err)
	}
	if err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("Commit over maxmemory: %v, want an OOM error", err)
	}
	before := s.Stats()
	loadValue(t, s, a, "a")
	if got := s.Stats(); got.CacheHits != before.CacheHits+1 {
		t.Fatalf("stats %+v, then %+v: the other session's entry is gone", before, got)
	}
	if got := loadValue(t, s, b, "b"); got != "1" {
		t.Fatalf("b = %q after the refused commit", got)
	}
}

// TestNearCacheWritesAcrossDrops drops the tracking connection over and
// over, as a request that finds it broken does, while requests run on
// it: those holding the connection dropped under them find it recycled
// before they send anything, and must go through the pool and succeed.
func TestNearCacheWritesAcrossDrops(t *testing.T) {
	srv := redistest.Start(t)
	s := newNearStore(t, srv.URL(), NearCache{})
	ctx := context.Background()
	stop := make(chan struct{})
	var dropper sync.WaitGroup
	dropper.Add(1)
	go func() {
		defer dropper.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if dc, _ := s.near.conn(ctx, "x", false); dc != nil {
				s.near.broken(dc)
			}
			runtime.Gosched()
		}
	}()
	const workers, each = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	toks := make([]sessionkit.Token, workers)
	for w := range workers {
		toks[w] = createSession(t, s, map[string][]byte{"a": []byte("0")})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "a", Value: []byte(strconv.Itoa(i))}}, IdleDeadline: time.Now().Add(time.Hour)}
				if _, err := s.Commit(ctx, toks[w], d); err != nil {
					errs <- fmt.Errorf("Commit %d: %w", i, err)
					return
				}
				if _, err := s.Touch(ctx, toks[w], time.Now().Add(time.Hour)); err != nil {
					errs <- fmt.Errorf("Touch %d: %w", i, err)
					return
				}
				if _, err := s.Update(ctx, toks[w], "n", time.Now().Add(time.Hour), func([]byte, bool) ([]byte, error) {
					return []byte(strconv.Itoa(i)), nil
				}); err != nil {
					errs <- fmt.Errorf("Update %d: %w", i, err)
					return
				}
				rec, found, err := s.Load(ctx, toks[w])
				if err != nil || !found || string(rec.Values["a"]) != strconv.Itoa(i) || string(rec.Values["n"]) != strconv.Itoa(i) {
					errs <- fmt.Errorf("Load %d: %v %v, a = %q, n = %q", i, found, err, rec.Values["a"], rec.Values["n"])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	dropper.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestNearCacheTrackingConnectionKilled kills the tracking connection
// alone while the store only serves hits, then changes the session from
// another client: Redis no longer tracks the key for anyone, so nothing
// reaches the invalidation connection, and only noticing the loss keeps
// the store from serving the entry until its TTL. The store's user is
// the default one, then one without the administrative commands
// (-@dangerous), which may not list other clients.
func TestNearCacheTrackingConnectionKilled(t *testing.T) {
	srv := redistest.Start(t)
	if _, err := redistest.Do(srv.Addr(), "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-@dangerous"); err != nil {
		t.Fatal(err)
	}
	for name, url := range map[string]string{"default": srv.URL(), "least-privilege": "redis://app:pw@" + srv.Addr()} {
		t.Run(name, func(t *testing.T) {
			s := newNearStore(t, url, NearCache{TTL: time.Hour})
			ctx := context.Background()
			tok := createSession(t, s, map[string][]byte{"a": []byte("old")})
			if got := loadValue(t, s, tok, "a"); got != "old" {
				t.Fatalf("a = %q", got)
			}
			s.near.mu.Lock()
			dc := s.near.dc
			s.near.mu.Unlock()
			id, err := dc.Do(ctx, dc.B().ClientId().Build()).AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := redistest.Do(srv.Addr(), "CLIENT", "KILL", "ID", strconv.FormatInt(id, 10)); err != nil {
				t.Fatal(err)
			}
			if _, err := redistest.Do(srv.Addr(), "HSET", s.keyOf(tok), field("a"), "new"); err != nil {
				t.Fatal(err)
			}
			acked := time.Now()
			for {
				rec, found, err := s.Load(ctx, tok)
				if err == nil && found && string(rec.Values["a"]) == "new" {
					break
				}
				if time.Since(acked) > 5*time.Second {
					t.Fatalf("the killed tracking connection was not noticed: Load: %v %v, a = %q", found, err, rec.Values["a"])
				}
			}
			t.Logf("the write was served %v after it was acknowledged", time.Since(acked))
		})
	}
}

// TestNearCacheExpiredContextKeepsCache loads a session that is not
// cached with a context whose deadline has passed: nothing is sent, so
// the tracking connection stays and so do the other entries.
func TestNearCacheExpiredContextKeepsCache(t *testing.T) {
	srv := redistest.Start(t)
	s, a, b, dc := cachedAndNot(t, srv.URL())
	for _, dl := range []time.Duration{-time.Millisecond, sendMargin / 2} {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(dl))
		_, _, err := s.load(ctx, s.keyOf(b))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("load with a deadline %v away: %v, want %v", dl, err, context.DeadlineExceeded)
		}
	}
	keptCache(t, s, dc, a, "a load that sent nothing")
}

// cachedAndNot opens a near-cache store on url with two sessions, the
// first cached and the second not, and returns its tracking connection.
func cachedAndNot(t *testing.T, url string) (s *Store, cached, uncached sessionkit.Token, dc rueidis.DedicatedClient) {
	t.Helper()
	s = newNearStore(t, url, NearCache{TTL: time.Hour})
	cached = createSession(t, s, map[string][]byte{"a": []byte("1")})
	uncached = createSession(t, s, map[string][]byte{"b": []byte("1")})
	s.near.forget(s.keyOf(uncached))
	s.near.mu.Lock()
	dc = s.near.dc
	s.near.mu.Unlock()
	return s, cached, uncached, dc
}

// keptCache fails the test unless s still uses the tracking connection dc
// and still caches the session cached, after what happened.
func keptCache(t *testing.T, s *Store, dc rueidis.DedicatedClient, cached sessionkit.Token, what string) {
	t.Helper()
	s.near.mu.Lock()
	same := s.near.dc == dc
	s.near.mu.Unlock()
	if !same {
		t.Fatal(what + " dropped the tracking connection")
	}
	if _, _, ok := s.near.get(s.keyOf(cached)); !ok {
		t.Fatal(what + " emptied the cache")
	}
}

// TestNearCachePipelinedDeadlineKeepsCache makes rueidis pipeline the
// tracking connection, then lets a load's deadline pass while its
// request is there (the server answers 25 ms late): the connection is
// sound, and after the check that follows, it and the other session's
// entry must still be in place.
func TestNearCachePipelinedDeadlineKeepsCache(t *testing.T) {
	srv := redistest.Start(t)
	addr := latencyProxy(t, srv.Addr(), 25*time.Millisecond)
	s, a, b, dc := cachedAndNot(t, "redis://"+addr)
	// Hold off the connection's checks until the load is sent. A call
	// whose context can be canceled but has no deadline makes rueidis
	// hand the connection to its writer and reader goroutines.
	s.near.calls.RLock()
	pctx, pcancel := context.WithCancel(context.Background())
	err := dc.Do(pctx, dc.B().Ping().Build()).Error()
	pcancel()
	if err != nil {
		s.near.calls.RUnlock()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	_, _, err = s.load(ctx, s.keyOf(b))
	cancel()
	s.near.calls.RUnlock()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("load: %v, want %v", err, context.DeadlineExceeded)
	}
	checks := s.near.checks.Load()
	if err := redistest.WaitFor(5*time.Second, func() error {
		s.near.mu.Lock()
		defer s.near.mu.Unlock()
		if got := s.near.checks.Load(); s.near.dc == dc && got < checks+2 {
			return fmt.Errorf("%d checks of the tracking connection since the load", got-checks)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	keptCache(t, s, dc, a, "a deadline on a sound pipelined connection")
}

// TestNearCacheOldInvalidationConnection holds back the closing of a
// dropped pair of connections until the cache follows a new pair and
// holds an entry: the old invalidation connection's end must not empty
// the cache.
func TestNearCacheOldInvalidationConnection(t *testing.T) {
	srv := redistest.Start(t)
	s := newNearStore(t, srv.URL(), NearCache{TTL: time.Hour})
	tok := createSession(t, s, map[string][]byte{"a": []byte("1")})
	s.near.mu.Lock()
	old, release := s.near.dc, s.near.release
	s.near.release = func() {}
	s.near.mu.Unlock()
	s.near.broken(old)
	key := s.keyOf(tok)
	if err := redistest.WaitFor(5*time.Second, func() error {
		loadValue(t, s, tok, "a")
		if _, _, ok := s.near.get(key); !ok {
			return errors.New("the session is not cached on a new tracking connection")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	release()
	// The old invalidation connection's end reaches its hook soon after
	// release returns; no event marks it, so watch the entry a while.
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, _, ok := s.near.get(key); !ok {
			t.Fatal("closing the old invalidation connection emptied the cache")
		}
	}
}

// TestNearCacheCanceledLoadReportsCancel cancels a load on the tracking
// connection whose reply comes after its deadline (the server answers
// 300 ms late): the error must be the cancellation, not the store being
// unavailable.
func TestNearCacheCanceledLoadReportsCancel(t *testing.T) {
	srv := redistest.Start(t)
	addr := latencyProxy(t, srv.Addr(), 300*time.Millisecond)
	s := newNearStore(t, "redis://"+addr, NearCache{})
	b := createSession(t, s, map[string][]byte{"b": []byte("1")})
	s.near.forget(s.keyOf(b))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	time.AfterFunc(20*time.Millisecond, cancel)
	_, _, err := s.Load(ctx, b)
	if !errors.Is(err, context.Canceled) || errors.Is(err, sessionkit.ErrUnavailable) {
		t.Fatalf("canceled Load: %v, want %v and not %v", err, context.Canceled, sessionkit.ErrUnavailable)
	}
}

func (s *Store) keyOf(t sessionkit.Token) string {
	k, _ := s.sessionKey(t)
	return k
}

// TestNearCacheSentinelSwitch switches a Sentinel group's primary while
// the previous one, refusing the sentinels' reconfiguration (its ACL
// denies them CLIENT KILL, which they send in the same transaction as
// REPLICAOF), stays a writable primary and keeps its clients, as a
// primary cut off from the sentinels would. Once the store's client has
// switched, a commit must reach the new primary.
func TestNearCacheSentinelSwitch(t *testing.T) {
	g := redistest.StartSentinel(t)
	s := newNearStore(t, g.URL(), NearCache{})
	tok := createSession(t, s, map[string][]byte{"a": []byte("0")})
	loadValue(t, s, tok, "a")
	// Replication is asynchronous: a failover before the replica has the
	// session would lose it, which is not what this test is about.
	if err := redistest.WaitFor(10*time.Second, func() error {
		if r, err := redistest.Do(g.Replica.Addr(), "HGET", s.keyOf(tok), field("a")); err != nil || fmt.Sprint(r) != "0" {
			return fmt.Errorf("the replica holds a = %v (%v)", r, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Do(g.Primary.Addr(), "ACL", "SETUSER", "default", "-client|kill"); err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Do(g.Sentinels[0].Addr(), "SENTINEL", "FAILOVER", g.Master); err != nil {
		t.Fatal(err)
	}
	if err := redistest.WaitFor(30*time.Second, func() error {
		if _, ok := s.client.Nodes()[g.Replica.Addr()]; !ok {
			return fmt.Errorf("the client is on %v", s.client.Nodes())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r, err := redistest.Do(g.Primary.Addr(), "ROLE"); err != nil || fmt.Sprint(r.([]any)[0]) != "master" {
		t.Fatalf("the previous primary is no longer one: %v %v", r, err)
	}
	commitValue(t, s, tok, "a", "1")
	r, err := redistest.Do(g.Replica.Addr(), "HGET", s.keyOf(tok), field("a"))
	if err != nil || fmt.Sprint(r) != "1" {
		t.Fatalf("the new primary holds a = %v (%v), want 1", r, err)
	}
	if got := loadValue(t, s, tok, "a"); got != "1" {
		t.Fatalf("Load: a = %q", got)
	}
}

// TestNearCacheExhaustedPool opens a store on a client whose one
// dedicated connection the application holds: a load, which must open
// the tracking connection, must return within its OpTimeout rather than
// wait for the connection.
func TestNearCacheExhaustedPool(t *testing.T) {
	srv := redistest.Start(t)
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, BlockingPoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, release := client.Dedicate()
	defer release()
	s := NewFromClient(client, Config{OpTimeout: 200 * time.Millisecond, NearCache: &NearCache{}})
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Load(context.Background(), sessionkit.NewToken())
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("Load: %v", err)
	case <-time.After(10 * time.Second):
		release() // lets the load end
		t.Fatal("Load still waiting after 10 s")
	}
}
