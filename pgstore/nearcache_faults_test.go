package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/internal/sqlcore"
	"github.com/sessionkit/sessionkit/pgstore"
)

// incr is an UpdateFunc that adds one to a decimal counter.
func incr(old []byte, _ bool) ([]byte, error) {
	n, _ := strconv.Atoi(string(old))
	return []byte(strconv.Itoa(n + 1)), nil
}

// A compare-and-set refused only because the cache was stale is not a
// lost attempt: with UpdateAttempts 1, an Update on a stale cached value
// succeeds and applies on the current one.
func TestNearCacheUpdateStaleOneAttempt(t *testing.T) {
	p := newPairOptions(t, "stale1", pgstore.Options{UpdateAttempts: 1})
	ctx := context.Background()
	tok := newSession(t, p.a, "", map[string][]byte{"c": []byte("0")})
	cached(t, p.b, tok)
	p.silently(t, tok, "c", "5")
	if _, err := p.b.Update(ctx, tok, "c", time.Now().Add(time.Hour), incr); err != nil {
		t.Fatalf("Update on a stale cache with UpdateAttempts 1: %v", err)
	}
	time.Sleep(maxLag)
	if got := value(t, p.a, tok, "c"); got != "6" {
		t.Fatalf("c = %q after the update, want 6", got)
	}
}

// An Update whose statement waited for another transaction's row lock is
// refused and sees the row as it was before the wait; the store reads the
// row again instead of retrying on that snapshot, so with UpdateAttempts 2
// the second attempt applies.
func TestNearCacheUpdateAfterLockWait(t *testing.T) {
	p := newPairOptions(t, "lockwait", pgstore.Options{UpdateAttempts: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok := newSession(t, p.a, "", map[string][]byte{"c": []byte("0")})
	cached(t, p.b, tok)
	tx, err := p.raw.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Hash()
	if _, err := tx.Exec(ctx, "UPDATE "+sqlcore.Table+" SET data = data || '{\"c\":\"NQ==\"}'::jsonb, version = version + 1 WHERE id = $1", h[:]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.b.Update(ctx, tok, "c", time.Now().Add(time.Hour), incr)
		done <- err
	}()
	// Wait until the Update waits for the row lock.
	eventually(t, 10*time.Second, "the update waiting for the row lock", func() bool {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE NOT granted").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Update after a lock wait with UpdateAttempts 2: %v", err)
	}
	time.Sleep(maxLag)
	if got := value(t, p.a, tok, "c"); got != "6" {
		t.Fatalf("c = %q after the update, want 6", got)
	}
}

// TRUNCATE empties the other stores' caches.
func TestNearCacheTruncate(t *testing.T) {
	p := newPair(t, "truncate")
	ctx := context.Background()
	tok := newSession(t, p.a, "", map[string][]byte{"k": []byte("v")})
	cached(t, p.b, tok)
	// A connection in the default role: TRUNCATE fires its triggers.
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "TRUNCATE "+sqlcore.Table); err != nil {
		t.Fatal(err)
	}
	time.Sleep(maxLag)
	if _, ok, err := p.b.Load(ctx, tok); err != nil || ok {
		t.Fatalf("maxLag after TRUNCATE, b loads the session: %v, %v", ok, err)
	}
}

// proxy forwards TCP connections to a server. Stall black-holes the
// connections of the near cache's listener open at that moment: their
// bytes are read and dropped in both directions, and never closed, as on
// a path that silently stopped delivering. Connections opened afterwards
// are forwarded.
type proxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    []*proxied
	accepted atomic.Int64
	wg       sync.WaitGroup
}

type proxied struct {
	client, server net.Conn
	listener       atomic.Bool // its startup message named the listener
	stalled        atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.client.Close()
			c.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxied{client: c, server: s}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		p.accepted.Add(1)
		p.wg.Go(func() { pc.copy(s, c, true) })
		p.wg.Go(func() { pc.copy(c, s, false) })
	}
}

// copy forwards from src to dst until src fails, dropping what it reads
// once the connection is stalled.
func (c *proxied) copy(dst, src net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient && bytes.Contains(buf[:n], []byte("sessionkit-listener")) {
				c.listener.Store(true)
			}
			if !c.stalled.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			if !c.stalled.Load() {
				dst.Close()
			}
			return
		}
	}
}

// stall black-holes the listener connections open now, and returns how
// many it stalled.
func (p *proxy) stall() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.conns {
		if c.listener.Load() && !c.stalled.Load() {
			c.stalled.Store(true)
			n++
		}
	}
	return n
}

// A listener whose connection stops delivering (heartbeats never come
// back, its statements never answered) gives it up and reconnects, and
// the cache serves again.
func TestNearCacheListenerBlackHoled(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	srv.CreateDB(t, "blackhole")
	px := newProxy(t, "127.0.0.1:"+strconv.Itoa(srv.Port))
	url := "postgres://postgres@" + px.ln.Addr().String() + "/blackhole?sslmode=disable"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := pgstore.New(ctx, pgstore.Config{URL: url, NearCache: &pgstore.NearCache{Heartbeat: 10 * time.Millisecond, MaxLag: maxLag}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := newSession(t, s, "", map[string][]byte{"k": []byte("v")})
	cached(t, s, tok)
	eventually(t, 10*time.Second, "the listener connection seen", func() bool { return px.stall() == 1 })
	eventually(t, 5*time.Second, "the cache to stop serving", func() bool {
		_, ok := sqlcore.Cached(s, tok)
		return !ok
	})
	// The listener reconnects through the proxy, and the cache serves
	// again (Load's pool connections were not stalled).
	eventually(t, 20*time.Second, "the cache serving again", func() bool {
		if _, ok, err := s.Load(ctx, tok); err != nil || !ok {
			t.Fatalf("Load: %v, %v", ok, err)
		}
		_, ok := sqlcore.Cached(s, tok)
		return ok
	})
}
