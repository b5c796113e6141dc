package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
)

// commandCalls returns how many times Redis ran each command, scripts'
// own calls included (INFO commandstats).
func commandCalls(t *testing.T, addr string) map[string]int {
	t.Helper()
	r, err := redistest.Do(addr, "INFO", "commandstats")
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	s, _ := r.(string)
	calls := map[string]int{}
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.Atoi(n)
	}
	return calls
}

func newSession(t *testing.T, s *redisstore.Store, principal string, values map[string][]byte) sessionkit.Token {
	t.Helper()
	now := time.Now()
	tok, err := s.Create(context.Background(), sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Principal: principal, Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)},
		Values: values,
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return tok
}

func mustLoad(t *testing.T, s *redisstore.Store, tok sessionkit.Token) (sessionkit.Record, bool) {
	t.Helper()
	rec, found, err := s.Load(context.Background(), tok)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return rec, found
}

// TestNearCacheOneRoundTrip checks that a session this store wrote is
// served from its cache: a request that loads and commits runs one
// command on Redis (the commit script), a read-only one none, and the
// loads see every commit.
func TestNearCacheOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), redisstore.Config{NearCache: &redisstore.NearCache{}})
	ctx := context.Background()
	tok := newSession(t, s, "", map[string][]byte{"a": []byte("0")})
	mustLoad(t, s, tok) // the tracking connection is open from here on
	before := commandCalls(t, srv.Addr())
	st := s.Stats()
	const n = 20
	for i := range n {
		rec, found := mustLoad(t, s, tok)
		if !found || string(rec.Values["a"]) != strconv.Itoa(i) {
			t.Fatalf("request %d: found %v, a = %q", i, found, rec.Values["a"])
		}
		d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "a", Value: []byte(strconv.Itoa(i + 1))}}, IdleDeadline: time.Now().Add(time.Hour)}
		if _, err := s.Commit(ctx, tok, d); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		mustLoad(t, s, tok) // a read-only request
	}
	after := commandCalls(t, srv.Addr())
	if got := after["evalsha"] - before["evalsha"]; got != n {
		t.Errorf("%d EVALSHA for %d commits", got, n)
	}
	for _, c := range []string{"hgetall", "pexpiretime"} { // the scripts run EXISTS and HGET themselves
		if after[c] != before[c] {
			t.Errorf("%s ran %d times", c, after[c]-before[c])
		}
	}
	if got := s.Stats(); got.CacheHits-st.CacheHits != 2*n || got.CacheMisses != st.CacheMisses {
		t.Errorf("stats %+v, then %+v: want %d more hits and no miss", st, got, 2*n)
	}
}

// TestNearCacheHitStillChecks: a load that the near cache could serve
// still fails on a canceled context and on a closed store, as a load that
// goes to Redis does.
func TestNearCacheHitStillChecks(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), redisstore.Config{NearCache: &redisstore.NearCache{}})
	tok := newSession(t, s, "", map[string][]byte{"a": []byte("1")})
	mustLoad(t, s, tok)
	mustLoad(t, s, tok) // served from the cache from here on
	hits := s.Stats().CacheHits
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Load(ctx, tok); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context: %v, want context.Canceled", err)
	}
	if got := s.Stats().CacheHits; got != hits {
		t.Errorf("the canceled load counted as a hit (%d hits, then %d)", hits, got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(context.Background(), tok); !errors.Is(err, redisstore.ErrClosed) {
		t.Errorf("Load on a closed store: %v, want ErrClosed", err)
	}
}

// TestNearCacheStaleUpdate makes one node's cache stale (another node
// writes while its invalidations are held back) and checks that Updates on
// both nodes lose no increment.
func TestNearCacheStaleUpdate(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "t" + string(sessionkit.NewToken())[:8] + ":"
	a := open(t, srv.URL(), redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}})
	b := open(t, srv.URL(), redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}})
	ctx := context.Background()
	tok := newSession(t, a, "", map[string][]byte{"n": []byte("0")})
	incr := func(old []byte, ok bool) ([]byte, error) {
		n, _ := strconv.Atoi(string(old))
		return []byte(strconv.Itoa(n + 1)), nil
	}
	const workers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range 2 * workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range each {
				if _, _, err := s.Load(ctx, tok); err != nil {
					errs <- err
					return
				}
				if _, err := s.Update(ctx, tok, "n", time.Now().Add(time.Hour), incr); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := strconv.Itoa(2 * workers * each)
	for _, s := range []*redisstore.Store{a, b} {
		if err := redistest.WaitFor(5*time.Second, func() error {
			if rec, _ := mustLoad(t, s, tok); string(rec.Values["n"]) != want {
				return fmt.Errorf("n = %q, want %s", rec.Values["n"], want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// twoNodes returns two stores with near caches on one Redis, as two
// nodes of an application would have.
func twoNodes(t *testing.T) (*redistest.Server, *redisstore.Store, *redisstore.Store) {
	srv := redistest.Start(t)
	prefix := "t" + string(sessionkit.NewToken())[:8] + ":"
	a := open(t, srv.URL(), redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}})
	b := open(t, srv.URL(), redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}})
	return srv, a, b
}

// staleBound is the staleness the tests accept: a load on one node
// returns no version older than the newest acknowledged on another node
// this long before the load began.
const staleBound = 50 * time.Millisecond

// TestNearCacheTwoNodes writes one session through both nodes in turn
// while readers on both load it, and checks every read against the
// versions acknowledged before it: none older than the newest
// acknowledged more than staleBound before the read began.
func TestNearCacheTwoNodes(t *testing.T) {
	_, a, b := twoNodes(t)
	ctx := context.Background()
	tok := newSession(t, a, "", map[string][]byte{"v": []byte("0")})
	nodes := []*redisstore.Store{a, b}

	var mu sync.Mutex
	acked := []time.Time{{}} // acked[i]: when version i was acknowledged
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
		stop.Store(true)
	}
	wg.Go(func() {
		for i := 1; i <= 400 && !stop.Load(); i++ {
			s := nodes[i%2]
			if _, _, err := s.Load(ctx, tok); err != nil {
				report(err)
				return
			}
			d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "v", Value: []byte(strconv.Itoa(i))}}, IdleDeadline: time.Now().Add(time.Hour)}
			if _, err := s.Commit(ctx, tok, d); err != nil {
				report(err)
				return
			}
			mu.Lock()
			acked = append(acked, time.Now())
			mu.Unlock()
		}
		stop.Store(true)
	})
	for r := range 4 {
		s := nodes[r%2]
		wg.Go(func() {
			for !stop.Load() {
				// Paced like requests: readers that never yield
				// would keep the goroutines that read Redis's
				// invalidations off the machine's two cores.
				time.Sleep(100 * time.Microsecond)
				began := time.Now()
				rec, found, err := s.Load(ctx, tok)
				if err != nil || !found {
					report(fmt.Errorf("load: %v %v", found, err))
					return
				}
				got, _ := strconv.Atoi(string(rec.Values["v"]))
				mu.Lock()
				newest := 0
				for i := len(acked) - 1; i > 0; i-- {
					if acked[i].Before(began.Add(-staleBound)) {
						newest = i
						break
					}
				}
				mu.Unlock()
				if got < newest {
					report(fmt.Errorf("node %d read version %d, but %d was acknowledged more than %v before the read", r%2, got, newest, staleBound))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := b.Stats(); st.CacheHits == 0 {
		t.Errorf("node b never hit its cache: %+v", st)
	}
}

// TestNearCacheInvalidationDelay measures how long after a commit on one
// node the other node stops serving the previous version, and how long
// after a revocation it refuses the session: each sample is a commit (or
// a RevokeAll) on node a, then loads on node b until it sees the change.
// Every sample must be within staleBound; the percentiles are logged.
func TestNearCacheInvalidationDelay(t *testing.T) {
	_, a, b := twoNodes(t)
	ctx := context.Background()
	measure := func(name string, samples int, change func(i int) (sessionkit.Token, error), seen func(tok sessionkit.Token, i int) bool) {
		t.Helper()
		var delays []time.Duration
		for i := range samples {
			tok, err := change(i)
			if err != nil {
				t.Fatalf("%s %d: %v", name, i, err)
			}
			start := time.Now()
			for !seen(tok, i) {
				time.Sleep(20 * time.Microsecond) // a poll, not a wait: the deadline below bounds it
				if time.Since(start) > staleBound {
					t.Fatalf("%s %d: node b still serves the previous state after %v", name, i, time.Since(start))
				}
			}
			delays = append(delays, time.Since(start))
		}
		slices.Sort(delays)
		t.Logf("%s on a, seen on b after (%d samples): p50 %v, p99 %v, max %v",
			name, samples, delays[len(delays)/2], delays[len(delays)*99/100], delays[len(delays)-1])
	}

	tok := newSession(t, a, "", map[string][]byte{"v": []byte("0")})
	measure("commit", 200, func(i int) (sessionkit.Token, error) {
		mustLoad(t, b, tok) // b caches the current version
		return a.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "v", Value: []byte(strconv.Itoa(i + 1))}}, IdleDeadline: time.Now().Add(time.Hour)})
	}, func(tok sessionkit.Token, i int) bool {
		rec, _ := mustLoad(t, b, tok)
		return string(rec.Values["v"]) == strconv.Itoa(i+1)
	})

	measure("revocation", 50, func(i int) (sessionkit.Token, error) {
		p := "user" + strconv.Itoa(i)
		tok := newSession(t, a, p, map[string][]byte{"v": []byte("1")})
		if _, found := mustLoad(t, b, tok); !found {
			return "", errors.New("b does not find the session")
		}
		if _, found := mustLoad(t, b, tok); !found {
			return "", errors.New("b does not find the session")
		}
		n, err := a.RevokeAll(ctx, p)
		if err == nil && n != 1 {
			err = fmt.Errorf("revoked %d sessions", n)
		}
		return tok, err
	}, func(tok sessionkit.Token, i int) bool {
		_, found := mustLoad(t, b, tok)
		return !found
	})
}

// TestNearCacheAfterOwnWrite checks that a session a node wrote, and so
// cached from its commit's reply, is still invalidated by the other
// node's writes, commits and touches alike.
func TestNearCacheAfterOwnWrite(t *testing.T) {
	_, a, b := twoNodes(t)
	ctx := context.Background()
	tok := newSession(t, a, "", map[string][]byte{"v": []byte("0")})
	for i := 1; i <= 20; i++ {
		own, other := a, b
		if i%2 == 0 {
			own, other = b, a
		}
		mustLoad(t, own, tok)
		if _, err := own.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "v", Value: []byte("own")}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := own.Touch(ctx, tok, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if rec, _ := mustLoad(t, own, tok); string(rec.Values["v"]) != "own" {
			t.Fatalf("round %d: own write not seen: %q", i, rec.Values["v"])
		}
		want := strconv.Itoa(i)
		if _, err := other.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "v", Value: []byte(want)}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			time.Sleep(20 * time.Microsecond)
			rec, _ := mustLoad(t, own, tok)
			if string(rec.Values["v"]) == want {
				break
			}
			if time.Since(start) > staleBound {
				t.Fatalf("round %d: the other node's write unseen after %v: %q", i, staleBound, rec.Values["v"])
			}
		}
	}
}

// TestNearCacheConnectionLoss kills every client connection while node a
// caches a session, then writes it through node b: a, whose invalidations
// may have been lost with its tracking connection, must not serve what it
// cached before.
func TestNearCacheConnectionLoss(t *testing.T) {
	srv, a, b := twoNodes(t)
	ctx := context.Background()
	tok := newSession(t, a, "", map[string][]byte{"v": []byte("0")})
	mustLoad(t, a, tok)
	mustLoad(t, b, tok)
	if rec, _ := mustLoad(t, a, tok); string(rec.Values["v"]) != "0" {
		t.Fatalf("v = %q", rec.Values["v"])
	}
	if _, err := redistest.Do(srv.Addr(), "CLIENT", "KILL", "TYPE", "normal"); err != nil {
		t.Fatal(err)
	}
	// b's first write may fail on its killed connection: a 503 for
	// one request; the next one reconnects.
	d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "v", Value: []byte("1")}}, IdleDeadline: time.Now().Add(time.Hour)}
	if err := redistest.WaitFor(5*time.Second, func() error {
		_, err := b.Commit(ctx, tok, d)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	for {
		time.Sleep(20 * time.Microsecond)
		began := time.Now()
		rec, _, err := a.Load(ctx, tok)
		if err == nil && string(rec.Values["v"]) == "1" {
			break
		}
		if began.Sub(acked) > staleBound {
			t.Fatalf("a still serves %q (err %v) %v after b's write", rec.Values["v"], err, began.Sub(acked))
		}
	}
}

// TestNearCacheConcurrentRequests runs 32 requests at a time on node a,
// each a load then a commit, over 8 sessions, while node b writes the
// same sessions. Each request goroutine writes a field of its own, and
// both nodes increment a counter per session with Update. A load on a
// must return the goroutine's own last write, and no version of b's
// field older than the newest b acknowledged more than staleBound before
// the load began; in the end no increment is lost. The requests overlap
// on a's tracking connection.
func TestNearCacheConcurrentRequests(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "t" + string(sessionkit.NewToken())[:8] + ":"
	a := open(t, srv.URL(), redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}})
	b := open(t, srv.URL(), redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}})
	plain := open(t, srv.URL(), redisstore.Config{Prefix: prefix})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const sessions, workers, each = 8, 32, 40
	type session struct {
		tok   sessionkit.Token
		mu    sync.Mutex
		acked []time.Time // acked[i]: when b's version i of field w was acknowledged
		incrs atomic.Int64
	}
	ss := make([]*session, sessions)
	for i := range ss {
		ss[i] = &session{tok: newSession(t, a, "", map[string][]byte{"w": []byte("0")}), acked: []time.Time{{}}}
	}
	incr := func(s *redisstore.Store, x *session) error {
		_, err := s.Update(ctx, x.tok, "c", time.Now().Add(time.Hour), func(old []byte, _ bool) ([]byte, error) {
			n, _ := strconv.Atoi(string(old))
			return []byte(strconv.Itoa(n + 1)), nil
		})
		if err == nil {
			x.incrs.Add(1)
		}
		return err
	}

	var stop atomic.Bool
	errs := make(chan error, workers+1)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
		stop.Store(true)
	}
	var writer sync.WaitGroup
	writer.Go(func() {
		for v := 1; !stop.Load(); v++ {
			for _, x := range ss {
				d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "w", Value: []byte(strconv.Itoa(v))}}, IdleDeadline: time.Now().Add(time.Hour)}
				if _, err := b.Commit(ctx, x.tok, d); err != nil {
					report(fmt.Errorf("b: Commit: %w", err))
					return
				}
				x.mu.Lock()
				x.acked = append(x.acked, time.Now())
				x.mu.Unlock()
				if err := incr(b, x); err != nil {
					report(fmt.Errorf("b: Update: %w", err))
					return
				}
			}
			time.Sleep(time.Millisecond) // paced, so that a's requests are not all misses
		}
	})
	var wg sync.WaitGroup
	for g := range workers {
		x := ss[g%sessions]
		name := "g" + strconv.Itoa(g)
		wg.Go(func() {
			for i := 1; i <= each && !stop.Load(); i++ {
				time.Sleep(100 * time.Microsecond) // paced like requests, see TestNearCacheTwoNodes
				began := time.Now()
				rec, found, err := a.Load(ctx, x.tok)
				if err != nil || !found {
					report(fmt.Errorf("a: Load: %v %v", found, err))
					return
				}
				if got, want := string(rec.Values[name]), strconv.Itoa(i-1); i > 1 && got != want {
					report(fmt.Errorf("a: Load after the commit of %s = %s returned %q", name, want, got))
					return
				}
				w, _ := strconv.Atoi(string(rec.Values["w"]))
				x.mu.Lock()
				newest := 0
				for v := len(x.acked) - 1; v > 0; v-- {
					if x.acked[v].Before(began.Add(-staleBound)) {
						newest = v
						break
					}
				}
				x.mu.Unlock()
				if w < newest {
					report(fmt.Errorf("a read w = %d, but b acknowledged %d more than %v before the read", w, newest, staleBound))
					return
				}
				d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: name, Value: []byte(strconv.Itoa(i))}}, IdleDeadline: time.Now().Add(time.Hour)}
				if _, err := a.Commit(ctx, x.tok, d); err != nil {
					report(fmt.Errorf("a: Commit: %w", err))
					return
				}
				if i%4 == 0 {
					if err := incr(a, x); err != nil {
						report(fmt.Errorf("a: Update: %w", err))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	writer.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for g := range workers {
		x := ss[g%sessions]
		rec, found := mustLoad(t, plain, x.tok)
		if got := string(rec.Values["g"+strconv.Itoa(g)]); !found || got != strconv.Itoa(each) {
			t.Errorf("g%d = %q (found %v), want %d", g, got, found, each)
		}
		if got := string(rec.Values["c"]); got != strconv.FormatInt(x.incrs.Load(), 10) {
			t.Errorf("counter %q after %d increments", got, x.incrs.Load())
		}
	}
	if st := a.Stats(); st.CacheHits == 0 {
		t.Errorf("node a never hit its cache: %+v", st)
	}
	t.Logf("node a: %+v", a.Stats())
}
