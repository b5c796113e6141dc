package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
)

const tokenHeader = "X-Session-Token"

// server returns an httptest server whose Manager keeps sessions in s:
// GET /inc increments "n" and answers its new value, GET /set?v=X sets
// "v", GET /get answers "v".
func server(t *testing.T, s sessionkit.Store) *httptest.Server {
	t.Helper()
	m, err := sessionkit.New(s, sessionkit.Config{
		Transport: &sessionkit.HeaderTransport{Name: tokenHeader},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/inc", func(w http.ResponseWriter, r *http.Request) {
		sess := sessionkit.FromContext(r.Context())
		n, _ := sessionkit.Get[int](sess, "n")
		if err := sess.Set("n", n+1); err != nil {
			return // the Manager answers with its error handler
		}
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).Set("v", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.FromContext(r.Context()), "v")
		fmt.Fprint(w, v)
	})
	ts := httptest.NewServer(m.Handler(mux))
	t.Cleanup(ts.Close)
	return ts
}

// client sends requests with a session token it keeps.
type client struct {
	http *http.Client
	tok  string
}

func (c *client) get(url string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if c.tok != "" {
		req.Header.Set(tokenHeader, c.tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v, ok := resp.Header[http.CanonicalHeaderKey(tokenHeader)]; ok {
		c.tok = v[0]
	}
	return resp.StatusCode, string(body), nil
}

// TestOutage kills redis-server under load through a real Manager: requests
// get 503 quickly, nothing panics and goroutines don't pile up; once the
// server is restarted on the same port, the same Store serves again within
// 2 s.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), redisstore.Config{OpTimeout: 500 * time.Millisecond, DialTimeout: 200 * time.Millisecond})
	ts := server(t, s)

	type result struct {
		start, end time.Time
		code       int
	}
	var (
		mu      sync.Mutex
		results []result
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		other   atomic.Int64
	)
	for range 4 {
		wg.Go(func() {
			c := &client{http: &http.Client{Timeout: 5 * time.Second}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				code, _, err := c.get(ts.URL + "/inc")
				if err != nil || (code != 200 && code != 503) {
					other.Add(1)
					t.Errorf("request: %d %v", code, err)
				}
				mu.Lock()
				results = append(results, result{start, time.Now(), code})
				mu.Unlock()
				if code != 200 {
					time.Sleep(2 * time.Millisecond)
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	// seen waits until a request that started after since got code.
	seen := func(code int, since time.Time, within time.Duration) (time.Time, error) {
		var at time.Time
		err := redistest.WaitFor(within, func() error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range results {
				if r.code == code && r.start.After(since) {
					at = r.end
					return nil
				}
			}
			return fmt.Errorf("no %d yet", code)
		})
		return at, err
	}
	if _, err := seen(200, time.Now(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	baseline := runtime.NumGoroutine()
	killed := time.Now()
	srv.Kill()
	if _, err := seen(503, killed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Keep the outage going a while, sampling goroutines.
	peak := 0
	redistest.WaitFor(5*time.Second, func() error {
		peak = max(peak, runtime.NumGoroutine())
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range results {
			if r.code == 503 && r.start.After(killed) {
				n++
			}
		}
		if n < 200 {
			return errors.New("fewer than 200 requests during the outage")
		}
		return nil
	})
	srv.Restart()
	ready := time.Now()
	back, err := seen(200, ready, 2*time.Second)
	if err != nil {
		t.Fatalf("the store did not serve again within 2 s of Redis accepting connections: %v", err)
	}

	mu.Lock()
	var outage []time.Duration
	for _, r := range results {
		if r.code == 503 {
			outage = append(outage, r.end.Sub(r.start))
		}
	}
	mu.Unlock()
	sort.Slice(outage, func(i, j int) bool { return outage[i] < outage[j] })
	p99 := outage[len(outage)*99/100]
	t.Logf("outage: %d requests answered 503, p50 %v, p99 %v, max %v; goroutines %d before, peak %d; served again %v after Redis accepted connections",
		len(outage), outage[len(outage)/2], p99, outage[len(outage)-1], baseline, peak, back.Sub(ready).Round(time.Millisecond))
	if p99 > time.Second {
		t.Errorf("503s took %v at the 99th percentile, want them fast", p99)
	}
	if peak > baseline+50 {
		t.Errorf("goroutines grew from %d to %d during the outage", baseline, peak)
	}
}

// TestNearCacheManagers writes through Manager A and reads through Manager
// B, each with its own store and connections and a near cache: B must see
// each write within a deadline, though it had the previous value cached.
func TestNearCacheManagers(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "nc" + string(sessionkit.NewToken())[:6] + ":"
	cfg := redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}}
	sa, sb := open(t, srv.URL(), cfg), open(t, srv.URL(), cfg)
	a, b := server(t, sa), server(t, sb)
	c := &client{http: &http.Client{Timeout: 5 * time.Second}}
	if code, _, err := c.get(a.URL + "/set?v=0"); code != 200 || err != nil {
		t.Fatalf("set: %d %v", code, err)
	}
	for i := 1; i <= 20; i++ {
		if _, v, _ := c.get(b.URL + "/get"); v != strconv.Itoa(i-1) {
			// B may still lag the previous write; it is checked below.
			t.Logf("round %d: B served %q before the write", i, v)
		}
		if code, _, err := c.get(a.URL + "/set?v=" + strconv.Itoa(i)); code != 200 || err != nil {
			t.Fatalf("set: %d %v", code, err)
		}
		err := redistest.WaitFor(2*time.Second, func() error {
			_, v, err := c.get(b.URL + "/get")
			if err != nil {
				return err
			}
			if v != strconv.Itoa(i) {
				return fmt.Errorf("B serves %q, want %d", v, i)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := sb.Stats(); st.CacheHits == 0 {
		t.Errorf("B's near cache was never hit: %+v", st)
	}
}

// TestNearCacheStaleness measures how long a write through store A takes to
// reach store B's near cache: B first caches the session, A commits, and B
// polls (cache hits, stale, until the invalidation arrives) until it sees
// the write.
func TestNearCacheStaleness(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "st" + string(sessionkit.NewToken())[:6] + ":"
	cfg := redisstore.Config{Prefix: prefix, NearCache: &redisstore.NearCache{}}
	a, b := open(t, srv.URL(), cfg), open(t, srv.URL(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	tok, err := a.Create(ctx, sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)},
		Values: map[string][]byte{"n": []byte("0")},
	})
	if err != nil {
		t.Fatal(err)
	}
	const writes = 200
	delays := make([]time.Duration, 0, writes)
	for i := 1; i <= writes; i++ {
		want := strconv.Itoa(i - 1)
		if err := redistest.WaitFor(2*time.Second, func() error {
			rec, found, err := b.Load(ctx, tok)
			if err != nil || !found || string(rec.Values["n"]) != want {
				return fmt.Errorf("B: %v %v %q", found, err, rec.Values["n"])
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "n", Value: []byte(strconv.Itoa(i))}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		written := time.Now()
		want = strconv.Itoa(i)
		for {
			rec, _, err := b.Load(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if string(rec.Values["n"]) == want {
				delays = append(delays, time.Since(written))
				break
			}
			runtime.Gosched()
			if time.Since(written) > 2*time.Second {
				t.Fatalf("write %d not seen by B within 2 s", i)
			}
		}
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	st := b.Stats()
	t.Logf("near cache staleness over %d writes: p50 %v, p99 %v, max %v (B: %d hits, %d misses)",
		writes, delays[writes/2], delays[writes*99/100], delays[writes-1], st.CacheHits, st.CacheMisses)
	if st.CacheHits == 0 {
		t.Error("B's loads were never served by its near cache")
	}
}
