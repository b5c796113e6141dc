package pgstore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proctest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/pgstore"
)

// TestPostgresOutage kills PostgreSQL under load behind a real Manager:
// requests get 503 while it is down, never a panic or another status, and
// succeed again, with their sessions intact, within 2 seconds of the server
// coming back on the same port and data folder.
func TestPostgresOutage(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.CreateDB(t, "outage")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs proctest.Buffer
	store, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m, err := sessionkit.New(store, sessionkit.Config{
		Transport: &sessionkit.HeaderTransport{},
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+1)
		io.WriteString(w, strconv.Itoa(n+1))
	})))
	defer hs.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	// Each client counts its own requests in its session; status counts
	// and the time of the first success after the restart are shared.
	var (
		mu        sync.Mutex
		ok, unav  int
		bad       []string
		restarted time.Time
		recovered time.Time
		lastN     = map[int]int{}
		regressed []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			var tok string
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL, nil)
				req.Header.Set("X-Session-Token", tok)
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				switch resp.StatusCode {
				case http.StatusOK:
					ok++
					if t := resp.Header.Get("X-Session-Token"); t != "" {
						tok = t
					}
					n, _ := strconv.Atoi(string(body))
					if n <= lastN[c] {
						regressed = append(regressed, string(body))
					}
					lastN[c] = n
					if !restarted.IsZero() && recovered.IsZero() {
						recovered = time.Now()
					}
				case http.StatusServiceUnavailable:
					unav++
				default:
					bad = append(bad, resp.Status+": "+string(body))
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			done := cond()
			mu.Unlock()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("100 successes", func() bool { return ok >= 100 })
	srv.Kill()
	waitFor("20 answers of 503", func() bool { return unav >= 20 })
	if _, _, err := store.Load(ctx, sessionkit.NewToken()); !errors.Is(err, sessionkit.ErrUnavailable) {
		t.Errorf("Load while the server is down: %v, want ErrUnavailable", err)
	}
	start := time.Now()
	srv.Restart(t)
	mu.Lock()
	restarted = time.Now()
	mu.Unlock()
	waitFor("a success after the restart", func() bool { return !recovered.IsZero() })
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d OK, %d 503; server up again %v after the restart began, first success %v after it was up",
		ok, unav, restarted.Sub(start).Round(time.Millisecond), recovered.Sub(restarted).Round(time.Millisecond))
	if line, _, _ := strings.Cut(logs.String(), "\n"); line != "" {
		t.Logf("the Manager's log: %s", line)
	}
	if d := recovered.Sub(restarted); d > 2*time.Second {
		t.Errorf("first success %v after the server came back, want within 2 s", d)
	}
	if len(bad) > 0 {
		t.Errorf("%d answers neither 200 nor 503, such as %q", len(bad), bad[0])
	}
	if len(regressed) > 0 {
		t.Errorf("%d sessions lost their count across the outage, such as %q", len(regressed), regressed[0])
	}
}
