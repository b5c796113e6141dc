package redisstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
)

// expiries collects the IDs a store reports and signals when it holds
// every ID wanted.
type expiries struct {
	mu   sync.Mutex
	want map[string]bool
	done chan struct{}
}

func watch(s *redisstore.Store, ids []string) *expiries {
	e := &expiries{want: map[string]bool{}, done: make(chan struct{})}
	for _, id := range ids {
		e.want[id] = true
	}
	s.NotifyExpired(func(_ context.Context, batch []sessionkit.Expiry) {
		e.mu.Lock()
		defer e.mu.Unlock()
		n := len(e.want)
		for _, x := range batch {
			delete(e.want, x.ID)
		}
		if n > 0 && len(e.want) == 0 {
			close(e.done)
		}
	})
	return e
}

func (e *expiries) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-e.done:
	case <-time.After(within):
		e.mu.Lock()
		defer e.mu.Unlock()
		t.Fatalf("%d expiries not reported: %v", len(e.want), e.want)
	}
}

// In Cluster mode the store subscribes on every master: Redis publishes a
// key's expiry only on the node that held it. Thirty sessions spread over
// three masters leave one without a session once in about 70,000 runs; a
// store subscribed on one master misses about two thirds of them.
func TestExpiryEveryClusterNode(t *testing.T) {
	c := redistest.StartCluster(t)
	notifyExpired(t, c.Nodes...)
	s := open(t, c.URL(), redisstore.Config{})
	ctx := context.Background()
	toks := make([]sessionkit.Token, 30)
	ids := make([]string, len(toks))
	for i := range toks {
		toks[i] = sessionkit.NewToken()
		ids[i] = toks[i].ID()
	}
	e := watch(s, ids)
	now := time.Now()
	for _, tok := range toks {
		m := sessionkit.Meta{Created: now, IdleDeadline: now.Add(300 * time.Millisecond), Deadline: now.Add(time.Hour)}
		if _, err := s.Create(ctx, tok, sessionkit.Record{Meta: m}); err != nil {
			t.Fatal(err)
		}
	}
	e.wait(t, 20*time.Second)
}

// The store never changes the server's configuration: with expired-key
// events off, it says so in its log and reports nothing.
func TestExpiryNotificationsOff(t *testing.T) {
	srv := redistest.Start(t)
	var log bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))
	s := open(t, srv.URL(), redisstore.Config{Logger: logger})
	watch(s, []string{"x"})
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(log.String(), "notify-keyspace-events") {
		t.Fatalf("no warning in the log: %q", log.String())
	}
	flags, err := redistest.Do(srv.Addr(), "CONFIG", "GET", "notify-keyspace-events")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := flags.([]any); len(f) != 2 || f[1] != "" {
		t.Fatalf("notify-keyspace-events = %v, want it left empty", flags)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
