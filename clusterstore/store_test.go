package clusterstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).probe"),
	)
}

var testKey = bytes.Repeat([]byte("k"), 32)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startNodes starts n in-process nodes that join one cluster, and waits
// until each sees all of them.
func startNodes(t *testing.T, n int, backups int, key []byte) []*Store {
	t.Helper()
	var nodes []*Store
	var seed string
	for i := range n {
		var s *Store
		var err error
		// A port free a moment ago may be taken meanwhile by another
		// node's outgoing connection: pick another then.
		for range 5 {
			var port int
			if port, err = proc.FreePort(); err != nil {
				break
			}
			cfg := Config{
				Name: fmt.Sprintf("n%d", i+1), Gossip: fmt.Sprintf("127.0.0.1:%d", port), Data: "127.0.0.1:0",
				Key: key, Backups: backups, Logger: quiet,
				SweepInterval: 50 * time.Millisecond, // for the case of expiry events
				// Calls queue behind each other (50 Updates of one
				// session, each copied to its backup): on a loaded
				// machine the last waits longer than the default 2 s.
				// No test here waits on a call's timeout: a stopped
				// node refuses connections.
				RPCTimeout: 30 * time.Second,
				// Likewise a write waits for its backup to agree on the
				// view: past the default 10 s on a loaded machine.
				FailoverWait: time.Minute,
			}
			if backups == 0 {
				cfg.Backups = NoBackups
			}
			if seed != "" {
				cfg.Join = []string{seed}
			}
			if s, err = New(context.Background(), cfg); !proc.AddrInUse(err) {
				if seed == "" {
					seed = cfg.Gossip
				}
				break
			}
		}
		if err != nil {
			closeAll(nodes)
			t.Fatal(err)
		}
		nodes = append(nodes, s)
	}
	t.Cleanup(func() { closeAll(nodes) })
	waitMembers(t, nodes, n)
	return nodes
}

// closeAll closes the nodes at once, as a cluster's stop would.
func closeAll(nodes []*Store) {
	var wg sync.WaitGroup
	for _, s := range nodes {
		wg.Go(func() { s.Close() })
	}
	wg.Wait()
}

func waitMembers(t testing.TB, nodes []*Store, n int) {
	t.Helper()
	err := proc.WaitFor(10*time.Second, func() error {
		for _, s := range nodes {
			if got := len(s.view.Load().nodes); got != n {
				return fmt.Errorf("%s sees %d nodes", s.cfg.Name, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// createSessions creates n sessions, each on node i%len(nodes) with a
// token it owns, holding value(i) under "i".
func createSessions(t *testing.T, nodes []*Store, n int, value func(i int) []byte) []sessionkit.Token {
	t.Helper()
	ctx := context.Background()
	var toks []sessionkit.Token
	for i := range n {
		s := nodes[i%len(nodes)]
		tok, err := s.Mint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		rec := sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}, Values: map[string][]byte{"i": value(i)}}
		if _, err := s.Create(ctx, tok, rec); err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	return toks
}

func TestConformanceOneNode(t *testing.T) {
	var nodes []*Store
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		nodes = startNodes(t, 1, 1, testKey)
		return nodes[0]
	}, conformance(&nodes)...)
}

// remote hides the Minter, so that the suite's tokens land on every node
// and most calls are forwarded to their owner.
// Its NotifyExpired registers with every node, as a Manager on each node
// does: each node reports the sessions it owns.
type remote struct {
	sessionkit.Store
	sessionkit.Principals
	sessionkit.LazyLoader
	nodes []*Store
}

// LazyStore returns r, so that the suite checks the LoadLazy it forwards.
func (r remote) LazyStore() sessionkit.Store { return r }

func (r remote) NotifyExpired(fn func(context.Context, []sessionkit.Expiry)) {
	for _, n := range r.nodes {
		n.NotifyExpired(fn)
	}
}

func TestConformanceThreeNodes(t *testing.T) {
	var nodes []*Store
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		nodes = startNodes(t, 3, 1, testKey)
		return remote{nodes[0], nodes[0], nodes[0], nodes}
	}, conformance(&nodes)...)
}

// conformance gives the suite a dump of every node's table (sessions are
// filed under the token's hash), and says what the store does instead of
// keeping generations.
func conformance(nodes *[]*Store) []storetest.Option {
	return []storetest.Option{
		storetest.AtRest(func() ([]byte, error) {
			var b bytes.Buffer
			for _, n := range *nodes {
				for sh := range n.table.recs.Shards() {
					for h, r := range sh.All() {
						b.Write(h[:])
						b.WriteString(r.Principal())
						for k, v := range r.All {
							b.WriteString(k)
							b.Write(v)
						}
					}
				}
			}
			return b.Bytes(), nil
		}),
		storetest.Instead("Generations", "the cluster store keeps no per-principal generations: it lists a principal's sessions on every node and deletes them (Principals)",
			func(t *testing.T, s sessionkit.Store) {
				ctx := context.Background()
				now := time.Now()
				m := sessionkit.Meta{Principal: "alice", Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}
				tok := sessionkit.NewToken()
				if _, err := s.Create(ctx, tok, sessionkit.Record{Meta: m}); err != nil {
					t.Fatal(err)
				}
				if n, err := s.(sessionkit.Principals).RevokeAll(ctx, "alice"); n != 1 || err != nil {
					t.Fatalf("RevokeAll = %d, %v; want 1", n, err)
				}
				if _, ok, err := s.Load(ctx, tok); ok || err != nil {
					t.Fatalf("Load after RevokeAll: found %v, %v", ok, err)
				}
			}),
		storetest.Instead("ExpiringGenerations", "the cluster store keeps no counters (see Generations), so it has none to expire",
			func(t *testing.T, s sessionkit.Store) {
				if _, ok := s.(sessionkit.Generations); ok {
					t.Fatal("the store keeps counters now: run the Generations and ExpiringGenerations cases on it")
				}
			}),
	}
}

// TestBackupsHoldCopies: with k backups every session is on k+1 nodes;
// with AllToAll on all of them.
func TestBackupsHoldCopies(t *testing.T) {
	for _, k := range []int{0, 1, AllToAll} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			nodes := startNodes(t, 3, k, testKey)
			ctx := context.Background()
			const sessions = 60
			for i := range sessions {
				s := nodes[i%3]
				now := time.Now()
				tok := sessionkit.NewToken()
				if _, err := s.Create(ctx, tok, sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}, Values: map[string][]byte{"a": {1}}}); err != nil {
					t.Fatal(err)
				}
			}
			want := (k + 1) * sessions
			if k == AllToAll {
				want = 3 * sessions
			}
			if err := proc.WaitFor(5*time.Second, func() error {
				total := 0
				for _, s := range nodes {
					st := s.Stats(false)
					total += st.Owned + st.Backups
				}
				if total != want {
					return fmt.Errorf("%d copies, want %d", total, want)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCrashLosesNothing: with one backup, a node's crash (here: its
// abrupt stop) loses no session, and each gets its second copy back.
func TestCrashLosesNothing(t *testing.T) {
	nodes := startNodes(t, 3, 1, testKey)
	ctx := context.Background()
	toks := createSessions(t, nodes, 90, func(i int) []byte { return []byte(fmt.Sprint(i)) })
	nodes[2].members.Load().Shutdown() // no leave message: a crash, as the others see it
	nodes[2].srv.Close()
	survivors := nodes[:2]
	waitMembers(t, survivors, 2)
	for i, tok := range toks {
		rec, found, err := survivors[i%2].Load(ctx, tok)
		if err != nil || !found || string(rec.Values["i"]) != fmt.Sprint(i) {
			t.Fatalf("session %d after the crash: found %v, err %v", i, found, err)
		}
	}
	if err := proc.WaitFor(5*time.Second, func() error {
		total := 0
		for _, s := range survivors {
			st := s.Stats(false)
			total += st.Owned + st.Backups
		}
		if total != 2*len(toks) {
			return fmt.Errorf("%d copies, want %d", total, 2*len(toks))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	nodes := startNodes(t, 1, 1, testKey)
	port, _ := proc.FreePort()
	_, err := New(context.Background(), Config{Name: "intruder", Gossip: fmt.Sprintf("127.0.0.1:%d", port), Data: "127.0.0.1:0",
		Key: bytes.Repeat([]byte("x"), 32), Join: []string{nodes[0].cfg.Gossip}, Logger: quiet})
	if err == nil {
		t.Fatal("a node with the wrong key joined")
	}
	// The data plane refuses a client without the key.
	_, clientTLS, _ := tlsConfigs(bytes.Repeat([]byte("x"), 32))
	intruder := &Store{cfg: Config{RPCTimeout: time.Second}, client: newClient(clientTLS), metrics: newMetrics(nil)}
	intruder.view.Store(&view{})
	if _, err := intruder.call(context.Background(), nodes[0].ln.Addr().String(), "/rpc/load", encoder{}.hash([32]byte{})); err == nil {
		t.Fatal("the data plane answered a client without the cluster key")
	}
	intruder.client.CloseIdleConnections()
}

func TestConcurrentUpdatesAcrossNodes(t *testing.T) {
	nodes := startNodes(t, 3, 1, testKey)
	ctx := context.Background()
	tok := sessionkit.NewToken()
	now := time.Now()
	if _, err := nodes[0].Create(ctx, tok, sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := nodes[i%3].Update(ctx, tok, "n", time.Now().Add(time.Hour), func(old []byte, ok bool) ([]byte, error) {
				return append(bytes.Clone(old), 'x'), nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	rec, _, _ := nodes[1].Load(ctx, tok)
	if len(rec.Values["n"]) != 50 {
		t.Fatalf("%d appends survived, want 50", len(rec.Values["n"]))
	}
}

// TestGracefulLeaveLosesNothing: with no backups at all, a node that
// leaves gracefully hands its sessions to their next owners first.
func TestGracefulLeaveLosesNothing(t *testing.T) {
	nodes := startNodes(t, 3, 0, testKey)
	ctx := context.Background()
	toks := createSessions(t, nodes, 60, func(i int) []byte { return []byte(fmt.Sprint(i)) })
	nodes[2].Close()
	waitMembers(t, nodes[:2], 2)
	for i, tok := range toks {
		rec, found, err := nodes[i%2].Load(ctx, tok)
		if err != nil || !found || string(rec.Values["i"]) != fmt.Sprint(i) {
			t.Fatalf("session %d after a graceful leave: found %v, err %v", i, found, err)
		}
	}
}

// In a stable cluster each expired session is reported once, by its
// owner, though its backup removes its copy too.
func TestExpiryReportedOnceByOwner(t *testing.T) {
	nodes := startNodes(t, 3, 1, testKey)
	var mu sync.Mutex
	count := map[string]int{}
	want := map[string]bool{}
	all := make(chan struct{})
	for _, n := range nodes {
		n.NotifyExpired(func(_ context.Context, batch []sessionkit.Expiry) {
			mu.Lock()
			defer mu.Unlock()
			for _, x := range batch {
				count[x.ID]++
				if want[x.ID] {
					delete(want, x.ID)
					if len(want) == 0 {
						close(all)
					}
				}
			}
		})
	}
	ctx := context.Background()
	now := time.Now()
	var ids []string
	for i := range 12 {
		s := nodes[i%len(nodes)]
		tok, err := s.Mint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		want[tok.ID()] = true
		mu.Unlock()
		ids = append(ids, tok.ID())
		rec := sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(300 * time.Millisecond), Deadline: now.Add(time.Hour)}}
		if _, err := s.Create(ctx, tok, rec); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatal("not every expiry reported before the deadline")
	}
	// Every copy swept: a backup that reported would have by now.
	err := proc.WaitFor(10*time.Second, func() error {
		for _, s := range nodes {
			if n, _ := s.table.stats(); n != 0 {
				return fmt.Errorf("%s holds %d sessions", s.cfg.Name, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("session %s reported %d times, want once", id[:8], count[id])
		}
	}
}

// A slow Observer must not hold up the node's background work (the sweeps
// and the resync that restores backups after a crash): the sweeps hand
// their expiries over without waiting, and drop them when the Observer
// falls behind.
func TestSlowObserverDoesNotStallSweeps(t *testing.T) {
	s := startNodes(t, 1, 0, testKey)[0]
	release := make(chan struct{})
	defer close(release)
	called := make(chan struct{}, 1)
	s.NotifyExpired(func(context.Context, []sessionkit.Expiry) {
		select {
		case called <- struct{}{}:
		default:
		}
		<-release
	})
	batch := []sessionkit.Expiry{{ID: "x"}}
	s.handOver(batch)
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("the expiries were not delivered")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 * cap(s.expiries) {
			s.handOver(batch)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a sweep waited for a blocked Observer")
	}
}
