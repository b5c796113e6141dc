package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// A history logs every operation of a shopper and checks, afterwards,
// that every read returned the latest acknowledged write: the cart holds
// every item whose addition was acknowledged, in order; an item whose
// addition failed may or may not be there (the request may have been
// applied before it failed); nothing else is; and an item once read never
// disappears (no older write wins).
type history struct {
	mu  sync.Mutex
	ops []op
}

// op is one request: an addition (item set) or a read, with what it
// returned.
type op struct {
	item  string
	ok    bool
	user  string
	cart  []string
	node  string
	err   string // why a request failed: status and answer
	start time.Time
}

func (h *history) log(o op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

// check returns the first violation in the shopper's history.
func (h *history) check(user string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var must []string
	maybe := map[string]bool{}
	var seen []string
	for i, o := range h.ops {
		if o.item != "" {
			if o.ok {
				must = append(must, o.item)
			} else {
				maybe[o.item] = true
			}
		}
		if !o.ok {
			continue
		}
		if o.user != user {
			return fmt.Errorf("op %d (%s): session lost: user %q, want %q", i, o.desc(), o.user, user)
		}
		var acked []string
		for _, item := range o.cart {
			switch {
			case slices.Contains(must, item):
				acked = append(acked, item)
			case !maybe[item]:
				return fmt.Errorf("op %d (%s): cart %v holds %q, never written", i, o.desc(), o.cart, item)
			}
		}
		if !slices.Equal(acked, must) {
			return fmt.Errorf("op %d (%s) on %s: cart %v, want the acknowledged %v: stale", i, o.desc(), o.node, o.cart, must)
		}
		for _, item := range seen {
			if !slices.Contains(o.cart, item) {
				return fmt.Errorf("op %d (%s) on %s: cart %v lost %q, read before: an older write won", i, o.desc(), o.node, o.cart, item)
			}
		}
		seen = o.cart
	}
	return nil
}

func (o op) desc() string {
	if o.item != "" {
		return "add " + o.item
	}
	return "read"
}

// logged is a shopper whose operations are logged.
type logged struct {
	*shopper
	history
	n int // items added
}

// add adds the shopper's next item through the router and logs it.
func (c *storeCluster) add(l *logged) bool {
	l.n++
	item := fmt.Sprintf("%s-%d", l.user, l.n)
	o := op{item: item, start: time.Now()}
	code, v := c.do(l.shopper, "POST", "/api/cart", `{"item":"`+item+`"}`)
	o.ok, o.user, o.cart, o.node = code == 200, v.User, v.Cart, v.Node
	if !o.ok {
		o.err = fmt.Sprintf("%s: POST /api/cart: %d %s", l.user, code, v.Error)
	}
	l.log(o)
	return o.ok
}

// failures lists why the shoppers' failed requests failed.
func failures(shoppers []*logged) []string {
	var out []string
	for _, l := range shoppers {
		for _, o := range l.ops {
			if o.err != "" {
				out = append(out, o.err)
			}
		}
	}
	return out
}

// read reads the shopper's session through the router and logs it.
func (c *storeCluster) read(l *logged) (bool, string) {
	o := op{start: time.Now()}
	cookie := l.cookie
	code, v := c.do(l.shopper, "GET", "/api/session", "")
	l.cookie = cookie // a lost session must show in every later read
	o.ok, o.user, o.cart, o.node = code == 200, v.User, v.Cart, v.Node
	if !o.ok {
		o.err = fmt.Sprintf("%s: GET /api/session: %d %s", l.user, code, v.Error)
	}
	l.log(o)
	return o.ok, v.Node
}

// logShoppers logs n users in, each with one item in the cart.
func (c *storeCluster) logShoppers(n int) []*logged {
	var out []*logged
	for _, sh := range c.fill(n) {
		l := &logged{shopper: sh, n: 1}
		l.log(op{item: sh.item, ok: true, user: sh.user, cart: []string{sh.item}})
		out = append(out, l)
	}
	return out
}

// load runs shoppers, each adding an item and reading its session in
// turn, until stop is closed; it returns the number of failed requests.
type load struct {
	failed atomic.Int64
	ops    atomic.Int64
	stop   chan struct{}
	done   sync.WaitGroup
}

func (c *storeCluster) startLoad(shoppers []*logged, workers int) *load {
	ld := &load{stop: make(chan struct{})}
	for w := range workers {
		// Each worker has shoppers of its own: a shopper's requests
		// are never concurrent, or its history could not be checked.
		var mine []*logged
		for i := w; i < len(shoppers); i += workers {
			mine = append(mine, shoppers[i])
		}
		ld.done.Go(func() {
			for i := 0; len(mine) > 0; i++ {
				select {
				case <-ld.stop:
					return
				default:
				}
				l := mine[i%len(mine)]
				if !c.add(l) {
					ld.failed.Add(1)
				}
				if ok, _ := c.read(l); !ok {
					ld.failed.Add(1)
				}
				ld.ops.Add(2)
			}
		})
	}
	return ld
}

// waitOps waits until the load has made n more requests.
func (ld *load) waitOps(t *testing.T, n int64) {
	t.Helper()
	target := ld.ops.Load() + n
	deadline := time.Now().Add(60 * time.Second)
	for ld.ops.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("the load made %d requests in a minute, want %d", ld.ops.Load()-target+n, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (ld *load) end() int64 {
	close(ld.stop)
	ld.done.Wait()
	return ld.failed.Load()
}

// checkHistories checks every shopper's history, and reads every session
// once more.
func (c *storeCluster) checkHistories(shoppers []*logged) {
	c.t.Helper()
	var bad []string
	for _, l := range shoppers {
		start := time.Now()
		c.read(l)
		if took := time.Since(start); took >= rawClient.Timeout {
			// A read path stuck after convergence: fail now, with what
			// every process was doing, not after every session's timeout.
			c.dumpStacks()
			c.t.Fatalf("%s: no answer through the router in %v", l.user, took.Round(time.Millisecond))
		}
		if err := l.check(l.user); err != nil {
			bad = append(bad, l.user+": "+err.Error())
		}
	}
	if len(bad) > 0 {
		c.dumpLogs()
		c.t.Fatalf("%d of %d histories wrong:\n%s", len(bad), len(shoppers), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	ops := 0
	for _, l := range shoppers {
		ops += len(l.ops)
	}
	c.t.Logf("history check: %d operations of %d shoppers, every read returned the latest acknowledged write", ops, len(shoppers))
}

// dumpStacks stops the router and every node still running with SIGQUIT,
// which makes a Go program print every goroutine's stack, and logs what
// each printed from then on.
func (c *storeCluster) dumpStacks() {
	procs := map[string]*proc.Process{"router": c.rProc}
	for name, n := range c.nodes {
		procs[name] = n.proc
	}
	names := slices.Sorted(maps.Keys(procs))
	from := map[string]int{}
	for _, name := range names {
		p := procs[name]
		select {
		case <-p.Done():
			c.t.Logf("%s had exited: %v", name, p.Err())
			delete(procs, name)
			continue
		default:
		}
		from[name] = len(p.Output())
		p.Signal(syscall.SIGQUIT)
	}
	deadline := time.Now().Add(5 * time.Second) // for them all
	for _, name := range names {
		p, ok := procs[name]
		if !ok {
			continue
		}
		select {
		case <-p.Done():
		case <-time.After(time.Until(deadline)):
		}
		c.t.Logf("%s after SIGQUIT:\n%s", name, p.Output()[from[name]:])
	}
}

// dumpLogs logs the tail of every node's output.
func (c *storeCluster) dumpLogs() {
	for name, n := range c.nodes {
		out := n.proc.Output()
		if len(out) > 2500 {
			out = out[len(out)-2500:]
		}
		c.t.Logf("%s:\n%s", name, out)
	}
}
