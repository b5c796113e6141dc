package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/internal/sqlcore"
	"github.com/sessionkit/sessionkit/pgstore"
)

// The two-node tests run two stores on one database, as two processes
// would, each with its listener, with a staleness bound of 40 ms.
const maxLag = 40 * time.Millisecond

type pair struct {
	a, b *pgstore.Store
	url  string
	raw  *pgx.Conn // a connection whose writes notify nobody
}

func newPair(t *testing.T, name string) *pair {
	t.Helper()
	return newPairOptions(t, name, pgstore.Options{})
}

// newPairOptions is newPair with the stores' Options.
func newPairOptions(t *testing.T, name string, opts pgstore.Options) *pair {
	t.Helper()
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.CreateDB(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &pair{url: url}
	for _, s := range []**pgstore.Store{&p.a, &p.b} {
		st, err := pgstore.New(ctx, pgstore.Config{URL: url, NearCache: &pgstore.NearCache{Heartbeat: 10 * time.Millisecond, MaxLag: maxLag}, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		*s = st
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(context.Background()) })
	// Replica mode fires no trigger: these writes reach no cache.
	if _, err := raw.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	p.raw = raw
	return p
}

// silently sets key to value in the row, moving its version, without
// notifying: what a cache serves afterwards is stale.
func (p *pair) silently(t *testing.T, tok sessionkit.Token, key, value string) {
	t.Helper()
	h := tok.Hash()
	tag, err := p.raw.Exec(context.Background(), "UPDATE "+sqlcore.Table+" SET data = data || jsonb_build_object($1::text, encode($2::bytea, 'base64')), version = version + 1 WHERE id = $3",
		key, []byte(value), h[:])
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("silent write: %v, %v", tag, err)
	}
}

func newSession(t *testing.T, s *pgstore.Store, principal string, values map[string][]byte) sessionkit.Token {
	t.Helper()
	now := time.Now()
	tok, err := s.Create(context.Background(), sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Principal: principal, Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)},
		Values: values,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// value loads the session and returns key's value ("" when absent).
func value(t *testing.T, s *pgstore.Store, tok sessionkit.Token, key string) string {
	t.Helper()
	rec, ok, err := s.Load(context.Background(), tok)
	if err != nil || !ok {
		t.Fatalf("Load: %v, %v", ok, err)
	}
	return string(rec.Values[key])
}

// eventually calls cond until it returns true, failing t after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// cached loads the session on s until s serves it from its cache.
func cached(t *testing.T, s *pgstore.Store, tok sessionkit.Token) {
	t.Helper()
	eventually(t, 10*time.Second, "the session cached", func() bool {
		if _, ok, err := s.Load(context.Background(), tok); err != nil || !ok {
			t.Fatalf("Load: %v, %v", ok, err)
		}
		_, ok := sqlcore.Cached(s, tok)
		return ok
	})
}

// A cached session is served without reading the database (a silent
// write is not seen), and a write through the other store reaches it.
func TestNearCacheServesAndInvalidates(t *testing.T) {
	p := newPair(t, "serve")
	tok := newSession(t, p.a, "", map[string][]byte{"k": []byte("1")})
	cached(t, p.b, tok)
	p.silently(t, tok, "k", "2")
	if got := value(t, p.b, tok, "k"); got != "1" {
		t.Fatalf("after a silent write the cache served %q, want the cached 1", got)
	}
	if _, err := p.a.Commit(context.Background(), tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "j", Value: []byte("x")}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// After maxLag, whatever the listener's state, b reads the row.
	time.Sleep(maxLag)
	if got, j := value(t, p.b, tok, "k"), value(t, p.b, tok, "j"); got != "2" || j != "x" {
		t.Fatalf("maxLag after a's commit, b read k=%q j=%q, want 2 and x", got, j)
	}
	// The writer's own cache took its commit.
	cached(t, p.a, tok)
	if _, err := p.a.Commit(context.Background(), tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "j", Value: []byte("y")}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sqlcore.Cached(p.a, tok); !ok {
		t.Fatal("a's own commit emptied its cache entry; want it to hold the commit")
	}
	if got := value(t, p.a, tok, "j"); got != "y" {
		t.Fatalf("a read j=%q after its commit, want y", got)
	}
}

// Two stores write one session in turn while both read it: no read
// returns a version older than the newest acknowledged more than 50 ms
// before the read began.
func TestNearCacheTwoNodesNoStaleRead(t *testing.T) {
	p := newPair(t, "stale")
	tok := newSession(t, p.a, "", map[string][]byte{"n": []byte("0")})
	ctx := context.Background()
	start := time.Now()
	const run = 1500 * time.Millisecond
	var acked []time.Duration // acked[k-1]: when n=k was acknowledged
	type read struct {
		at time.Duration
		n  int
	}
	var mu sync.Mutex
	var reads []read
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, s := range []*pgstore.Store{p.a, p.b} {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				at := time.Since(start)
				rec, ok, err := s.Load(ctx, tok)
				if err != nil || !ok {
					t.Errorf("Load: %v, %v", ok, err)
					return
				}
				n, _ := strconv.Atoi(string(rec.Values["n"]))
				mu.Lock()
				reads = append(reads, read{at, n})
				mu.Unlock()
			}
		})
	}
	// At least run, and at least 60 commits, whatever the machine's load.
	for k := 1; time.Since(start) < run || k <= 60; k++ {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("only %d commits in a minute", k-1)
		}
		s := []*pgstore.Store{p.a, p.b}[k%2]
		if _, err := s.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "n", Value: []byte(strconv.Itoa(k))}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, time.Since(start))
		// Pause sometimes, so that caches fill between writes.
		if k%4 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(done)
	wg.Wait()
	bad := 0
	for _, r := range reads {
		// The newest version acknowledged more than 50 ms before r.
		want, _ := slices.BinarySearch(acked, r.at-50*time.Millisecond)
		if r.n < want {
			if bad++; bad <= 5 {
				t.Errorf("read at %v returned n=%d, but n=%d was acknowledged at %v", r.at, r.n, want, acked[want-1])
			}
		}
	}
	t.Logf("%d commits, %d reads, %d too old", len(acked), len(reads), bad)
	if len(reads) < 100 {
		t.Fatalf("only %d reads", len(reads))
	}
}

// An Update whose cached value is stale is refused by the version and
// retried on the row the refusal returned: fn sees the stale value, then
// the current one, and no write is lost. Concurrent Updates through both
// stores lose none either.
func TestNearCacheUpdateStale(t *testing.T) {
	p := newPair(t, "update")
	ctx := context.Background()
	tok := newSession(t, p.a, "", map[string][]byte{"c": []byte("0")})
	cached(t, p.b, tok)
	p.silently(t, tok, "c", "5")
	var seen []string
	_, err := p.b.Update(ctx, tok, "c", time.Now().Add(time.Hour), func(old []byte, ok bool) ([]byte, error) {
		seen = append(seen, string(old))
		n, _ := strconv.Atoi(string(old))
		return []byte(strconv.Itoa(n + 1)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"0", "5"}) {
		t.Fatalf("fn saw %q, want the stale 0 then the current 5", seen)
	}
	if got := value(t, p.a, tok, "c"); got != "6" {
		t.Fatalf("c = %q after the update, want 6", got)
	}

	const each = 40
	var wg sync.WaitGroup
	for _, s := range []*pgstore.Store{p.a, p.b, p.a, p.b} {
		wg.Go(func() {
			for range each {
				_, err := s.Update(ctx, tok, "c", time.Now().Add(time.Hour), func(old []byte, ok bool) ([]byte, error) {
					n, _ := strconv.Atoi(string(old))
					return []byte(strconv.Itoa(n + 1)), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, s := range []*pgstore.Store{p.a, p.b} {
		time.Sleep(maxLag)
		if got := value(t, s, tok, "c"); got != strconv.Itoa(6+4*each) {
			t.Fatalf("c = %q after %d concurrent updates, want %d", got, 4*each, 6+4*each)
		}
	}
}

// A session revoked through one store is refused by the other: always
// once maxLag has passed, and usually far sooner (the measured figure).
func TestNearCacheRevocation(t *testing.T) {
	p := newPair(t, "revoke")
	ctx := context.Background()
	var took []time.Duration
	for i := range 30 {
		principal := fmt.Sprintf("user%d", i)
		tok := newSession(t, p.a, principal, map[string][]byte{"k": []byte("v")})
		cached(t, p.b, tok)
		if n, err := p.a.RevokeAll(ctx, principal); err != nil || n != 1 {
			t.Fatalf("RevokeAll = %d, %v", n, err)
		}
		acked := time.Now()
		for {
			_, cachedNow := sqlcore.Cached(p.b, tok)
			if !cachedNow {
				took = append(took, time.Since(acked))
				break
			}
			if time.Since(acked) > maxLag {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		for time.Since(acked) < maxLag {
			time.Sleep(time.Millisecond)
		}
		if _, ok, err := p.b.Load(ctx, tok); err != nil || ok {
			t.Fatalf("maxLag after the revocation, b loads the session: %v, %v", ok, err)
		}
	}
	slices.Sort(took)
	t.Logf("revocation reached the other store's cache in: p50 %v, max %v over %d", took[len(took)/2], took[len(took)-1], len(took))
}

// Killing the listener's connection empties the cache at once, and the
// listener reconnects and the cache fills again by itself.
func TestNearCacheListenerKilled(t *testing.T) {
	p := newPair(t, "killed")
	ctx := context.Background()
	tok := newSession(t, p.a, "", map[string][]byte{"k": []byte("0")})
	cached(t, p.a, tok)
	p.silently(t, tok, "k", "1")
	if got := value(t, p.a, tok, "k"); got != "0" {
		t.Fatalf("served %q, want the cached 0", got)
	}
	var killed int
	if err := p.raw.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sessionkit-listener' AND datname = current_database()").Scan(&killed); err != nil || killed != 2 {
		t.Fatalf("terminated %d listeners (%v), want 2", killed, err)
	}
	// The cache is emptied: the silent write is seen.
	eventually(t, 5*time.Second, "the cache emptied", func() bool { return value(t, p.a, tok, "k") == "1" })
	// And it serves again: a silent write is not seen.
	n := 1
	eventually(t, 10*time.Second, "the cache serving again", func() bool {
		cached(t, p.a, tok)
		n++
		p.silently(t, tok, "k", strconv.Itoa(n))
		return value(t, p.a, tok, "k") == strconv.Itoa(n-1)
	})
}

// TestNearCacheLatency measures the time from the acknowledgement of a
// commit on one store to the invalidation of the session in the other's
// cache, and logs its median and 99th percentile.
func TestNearCacheLatency(t *testing.T) {
	p := newPair(t, "latency")
	ctx := context.Background()
	tok := newSession(t, p.a, "", map[string][]byte{"k": []byte("0")})
	var lat []time.Duration
	for i := range 200 {
		cached(t, p.b, tok)
		v, _ := sqlcore.Cached(p.b, tok)
		if _, err := p.a.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "k", Value: []byte(strconv.Itoa(i))}}, IdleDeadline: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		for {
			if w, ok := sqlcore.Cached(p.b, tok); !ok || w > v {
				lat = append(lat, time.Since(acked))
				break
			}
			if time.Since(acked) > 10*time.Second {
				t.Fatal("no invalidation within 10 s")
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	slices.Sort(lat)
	t.Logf("commit acknowledged on a to invalidation on b, %d commits: p50 %v, p99 %v, max %v", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}
