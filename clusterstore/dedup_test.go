package clusterstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/proc"
)

// gate holds one direction of a proxied connection while closed: what it
// read meanwhile is written once it opens.
type gate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// wait blocks while the gate is closed, or until done closes.
func (g *gate) wait(done chan struct{}) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-done:
	}
}

// dataProxy stands in front of a node's data plane, which the node
// advertises at the proxy's address: in holds what the others send the
// node, out what the node answers them.
type dataProxy struct {
	ln      net.Listener
	in, out *gate
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newDataProxy(t *testing.T) *dataProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &dataProxy{ln: ln, in: newGate(), out: newGate(), done: make(chan struct{})}
}

// serve forwards the connections it accepts to target.
func (p *dataProxy) serve(target string) {
	p.wg.Go(func() {
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(u, c, p.in) })
			p.wg.Go(func() { p.pipe(c, u, p.out) })
		}
	})
}

func (p *dataProxy) pipe(dst, src net.Conn, g *gate) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			g.wait(p.done)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *dataProxy) close() {
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// startProxied starts n nodes that join one cluster with the given
// backups, each behind a dataProxy, and waits until each sees all of
// them and is warm. stop closes them.
func startProxied(t *testing.T, n, backups int) (nodes []*Store, proxies []*dataProxy, stop func()) {
	t.Helper()
	stop = func() {
		for _, p := range proxies {
			p.in.release()
			p.out.release()
		}
		closeAll(nodes)
		for _, p := range proxies {
			p.close()
		}
	}
	var seed string
	for i := range n {
		p := newDataProxy(t)
		proxies = append(proxies, p)
		var s *Store
		var err error
		for range 5 {
			var port int
			if port, err = proc.FreePort(); err != nil {
				break
			}
			cfg := Config{
				Name: fmt.Sprintf("n%d", i+1), Gossip: fmt.Sprintf("127.0.0.1:%d", port), Data: "127.0.0.1:0",
				AdvertiseData: p.ln.Addr().String(), Key: testKey, Backups: backups, Logger: quiet,
				RPCTimeout: 10 * time.Second, FailoverWait: time.Minute,
				// Slower failure detection than the default: no node
				// of a loaded machine is taken for dead meanwhile.
				Timing: LANTiming,
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
			stop()
			t.Fatal(err)
		}
		p.serve(s.ln.Addr().String())
		nodes = append(nodes, s)
	}
	err := proc.WaitFor(30*time.Second, func() error {
		for _, s := range nodes {
			if len(s.view.Load().nodes) != n || !s.Warm() {
				return fmt.Errorf("%s sees %d nodes, warm %v", s.cfg.Name, len(s.view.Load().nodes), s.Warm())
			}
		}
		return nil
	})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return nodes, proxies, stop
}

// TestRetriedWriteAppliedOnce: with two backups, an owner's write taken
// by one backup and refused by the other (the key changed owner between
// their answers) is undone at the owner and retried at the new owner,
// which is the backup that took it: the write is applied there once.
//
// The owner A appends to a cart with Update; its first backup B applies
// the write under the old view, and B's answer is held. The key then
// moves to B (A drains, in every node's view), and the second backup C,
// which receives the write only now, refuses it. A undoes the write and
// retries it at B. On a loaded machine the held calls may miss that
// order (A's call to C may time out instead): the scenario is then run
// again on a new cluster, three times at most.
func TestRetriedWriteAppliedOnce(t *testing.T) {
	retriedOnce(t, func(old []byte, ok bool) ([]byte, error) {
		return append(bytes.Clone(old), 'x'), nil
	})
}

// TestRetriedUpdateNotRunAgain: as TestRetriedWriteAppliedOnce, with an
// update function that refuses a cart that has an x already. The retry
// at the new owner, which holds the write, must report success without
// running the function on a value that holds its own write.
func TestRetriedUpdateNotRunAgain(t *testing.T) {
	retriedOnce(t, func(old []byte, ok bool) ([]byte, error) {
		if bytes.IndexByte(old, 'x') >= 0 {
			return nil, errors.New("the cart has an x already")
		}
		return append(bytes.Clone(old), 'x'), nil
	})
}

// retriedOnce runs retriedWrite with fn until the interleaving is
// reached, three times at most, and checks the write was applied once.
func retriedOnce(t *testing.T, fn sessionkit.UpdateFunc) {
	for range 3 {
		cart, reached := retriedWrite(t, fn)
		if !reached {
			t.Log("the owner did not see the refusal in time: again")
			continue
		}
		if cart != "ax" {
			t.Fatalf("the new owner's cart is %q, want %q: the retried write was applied %d times", cart, "ax", strings.Count(cart, "x"))
		}
		return
	}
	t.Fatal("the interleaving was not reached in 3 runs")
}

// retriedWrite runs the scenario of TestRetriedWriteAppliedOnce, with
// update function fn, on a new cluster and returns the cart at the new owner once its copies agree,
// and whether the owner undid the write as the refusal asked.
func retriedWrite(t *testing.T, fn sessionkit.UpdateFunc) (string, bool) {
	nodes, proxies, stop := startProxied(t, 3, 2)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := nodes[0]
	tok, err := a.Mint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Hash()
	var owners []string
	err = proc.WaitFor(30*time.Second, func() error {
		for _, s := range nodes {
			if owners, _ = s.owners(h); len(owners) != 3 || owners[0] != a.cfg.Name {
				return fmt.Errorf("%s: owners %v, want n1 first of 3", s.cfg.Name, owners)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, s := range nodes {
		byName[s.cfg.Name] = i
	}
	b, c := nodes[byName[owners[1]]], nodes[byName[owners[2]]]
	pb, pc := proxies[byName[owners[1]]], proxies[byName[owners[2]]]

	now := time.Now()
	rec := sessionkit.Record{Meta: sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)}, Values: map[string][]byte{"cart": []byte("a")}}
	if _, err := a.Create(ctx, tok, rec); err != nil {
		t.Fatal(err)
	}
	var created *record
	err = proc.WaitFor(10*time.Second, func() error {
		for _, s := range nodes {
			r, ok := s.table.load(h)
			if !ok || string(r.Values()["cart"]) != "a" {
				return fmt.Errorf("%s has no copy yet", s.cfg.Name)
			}
			if s == a {
				created = r
			}
		}
		if owners, v := a.owners(h); !a.holds(v, owners) {
			return errors.New("n1 holds no lease on the key")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// C hears nothing for now; B takes what it is sent, but its
	// answers are held.
	pc.in.hold()
	pb.out.hold()
	updated := make(chan error, 1)
	go func() {
		_, err := a.Update(ctx, tok, "cart", now.Add(time.Hour), fn)
		updated <- err
	}()
	err = proc.WaitFor(30*time.Second, func() error {
		if r, ok := b.table.load(h); !ok || r.version == created.version {
			return errors.New("n2 has not applied the write")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The key moves to B: A drains, as every node now sees (at an epoch
	// past any that A's gossip may reach meanwhile).
	e := a.view.Load().vec[a.cfg.Name]
	e.Draining, e.Epoch = true, e.Epoch+1000
	for _, s := range nodes {
		s.learn(vector{a.cfg.Name: e})
		if owners, _ := s.owners(h); owners[0] != b.cfg.Name {
			t.Fatalf("%s: owners after the drain %v, want %s first", s.cfg.Name, owners, b.cfg.Name)
		}
	}

	// C now receives the write and refuses it; once A has undone it,
	// B's answers go through and A retries at B.
	pc.in.release()
	reached := proc.WaitFor(5*time.Second, func() error {
		if r, ok := a.table.load(h); !ok || r.version != created.version {
			return errors.New("n1 has not undone the write")
		}
		return nil
	}) == nil
	pb.out.release()
	select {
	case err := <-updated:
		if reached && err != nil {
			t.Fatalf("Update: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Update did not return")
	}
	if !reached {
		return "", false
	}
	var cart string
	err = proc.WaitFor(10*time.Second, func() error {
		rb, okb := b.table.load(h)
		rc, okc := c.table.load(h)
		if !okb || !okc || rb.version != rc.version {
			return fmt.Errorf("n2 has %+v, n3 %+v", rb, rc)
		}
		cart = string(rb.Values()["cart"])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cart, true
}

// TestOpAppliedOnce: a write's id travels with its replication, and a
// node that holds the id does not apply a write with the same id again,
// but writes the record as it stands, whole, past any copy's version.
func TestOpAppliedOnce(t *testing.T) {
	owner, backup := newTable(time.Minute, 0), newTable(time.Minute, 0)
	later := time.Now().Add(time.Hour)
	meta := sessionkit.Meta{IdleDeadline: later, Deadline: later}
	var h [32]byte
	add := func(x string) sessionkit.Delta {
		return sessionkit.Delta{IdleDeadline: later, Set: []sessionkit.Entry{{Key: x, Value: []byte(x)}}}
	}
	backup.apply(owner.create(h, newOp(), meta, nil))
	op := newOp()
	m, err := owner.commit(h, op, add("a"))
	if err != nil || m.kind != kindDelta || !slices.Equal(m.ops, []uint64{op}) {
		t.Fatalf("commit: %+v, %v; want a delta carrying its id", m, err)
	}
	// Through the wire, as replication sends it.
	d := newDecoder(encoder(nil).message(&m))
	if got := d.message(); d.Err() != nil || !slices.Equal(got.ops, m.ops) {
		t.Fatalf("decoded %+v, %v; want ids %v", got, d.Err(), m.ops)
	}
	backup.apply(m)

	// The backup becomes the owner, and the write is retried there.
	again, err := backup.commit(h, op, add("b"))
	r, _ := backup.load(h)
	if err != nil || again.kind != kindFull || again.version <= m.version || r.Values()["b"] != nil || r.Values()["a"] == nil {
		t.Fatalf("retried write: %+v, %v, record %+v; want the record as it was, whole, at a later version", again, err, r)
	}
	if _, err := backup.swap(h, op, "c", nil, false, []byte("c"), later); err != nil {
		t.Fatal(err)
	}
	if r, _ := backup.load(h); r.Values()["c"] != nil {
		t.Fatalf("a compare-and-set with an applied id was applied: %+v", r)
	}
	// Another write is applied, and the ids kept are bounded.
	for range 2 * opsKept {
		if _, err := backup.commit(h, newOp(), add("d")); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := backup.load(h); r.Values()["d"] == nil || len(r.ops) != opsKept || r.applied(op) {
		t.Fatalf("after more writes: %+v; want d and the last %d ids", r, opsKept)
	}
	// A copy carries the ids: the whole record's.
	full, _ := backup.full(h)
	owner.apply(full)
	if r, _ := owner.load(h); !slices.Equal(r.ops, full.ops) || len(full.ops) != opsKept {
		t.Fatalf("copy: %+v; want ids %v", r, full.ops)
	}
}

// A request decodes the same with or without its operation id, as a node
// from before ids sends it.
func TestRequestOp(t *testing.T) {
	later := time.Unix(0, time.Now().UnixNano())
	req := commitRequest{hash: [32]byte{1}, delta: sessionkit.Delta{IdleDeadline: later}}
	for _, op := range []uint64{0, newOp()} {
		req.op = op
		d := newDecoder(encoder(nil).commitRequest(&req))
		if got := d.commitRequest(); d.Err() != nil || got.op != op || got.hash != req.hash {
			t.Fatalf("op %d: %+v, %v", op, got, d.Err())
		}
	}
	req.op = 0
	d := newDecoder(append(encoder(nil).commitRequest(&req), 1))
	if d.commitRequest(); d.Err() == nil {
		t.Fatal("a request with a truncated id decoded")
	}
}

// A load's answer says whether the record holds the write whose id the
// load carried; an answer from a node before ids decodes as not holding it.
func TestLoadAnswer(t *testing.T) {
	later := time.Unix(0, time.Now().Add(time.Hour).UnixNano())
	r := newRecord(sessionkit.Meta{IdleDeadline: later, Deadline: later}, map[string][]byte{"cart": []byte("ax")}, 9)
	for _, applied := range []bool{false, true} {
		got, ok, err := decodeLoaded(encodeLoaded(r, applied))
		if err != nil || ok != applied || got.version != 9 || string(got.Values()["cart"]) != "ax" {
			t.Fatalf("applied %v: %+v, %v, %v", applied, got, ok, err)
		}
	}
	if _, ok, err := decodeLoaded(encodeRecord(r)); err != nil || ok {
		t.Fatalf("an answer without the flag: %v, %v", ok, err)
	}
	if _, err := decodeRecord(encodeLoaded(r, true)); err != nil {
		t.Fatalf("a node before ids reads a flagged answer: %v", err)
	}
}

// FuzzRequest: the requests that carry an operation id decode what they
// encode, with or without the id.
func FuzzRequest(f *testing.F) {
	later := time.Unix(0, 1<<60)
	f.Add([]byte(encoder(nil).commitRequest(&commitRequest{hash: [32]byte{1}, delta: sessionkit.Delta{IdleDeadline: later, Set: []sessionkit.Entry{{Key: "a", Value: []byte("b")}}}, op: 7})))
	f.Add([]byte(encoder(nil).swapRequest(&swapRequest{hash: [32]byte{2}, key: "k", old: []byte("o"), oldOK: true, next: []byte("n"), deadline: later, op: 1 << 63})))
	f.Add([]byte(encoder(nil).createRequest(&createRequest{hash: [32]byte{3}, values: map[string][]byte{"x": nil}})))
	f.Add([]byte(encodeLoaded(newRecord(sessionkit.Meta{IdleDeadline: later}, map[string][]byte{"k": []byte("v")}, 3), true)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := newDecoder(b)
		if r := d.commitRequest(); d.Err() == nil {
			d2 := newDecoder(encoder(nil).commitRequest(&r))
			if r2 := d2.commitRequest(); d2.Err() != nil || r2.hash != r.hash || r2.op != r.op || len(r2.delta.Set) != len(r.delta.Set) {
				t.Fatalf("commit round trip: %+v, %+v, %v", r, r2, d2.Err())
			}
		}
		d = newDecoder(b)
		if r := d.swapRequest(); d.Err() == nil {
			d2 := newDecoder(encoder(nil).swapRequest(&r))
			if r2 := d2.swapRequest(); d2.Err() != nil || r2.hash != r.hash || r2.op != r.op || r2.key != r.key || !bytes.Equal(r2.next, r.next) {
				t.Fatalf("swap round trip: %+v, %+v, %v", r, r2, d2.Err())
			}
		}
		d = newDecoder(b)
		if r := d.createRequest(); d.Err() == nil {
			d2 := newDecoder(encoder(nil).createRequest(&r))
			if r2 := d2.createRequest(); d2.Err() != nil || r2.hash != r.hash || r2.op != r.op || len(r2.values) != len(r.values) {
				t.Fatalf("create round trip: %+v, %+v, %v", r, r2, d2.Err())
			}
		}
		if r, applied, err := decodeLoaded(b); err == nil {
			r2, applied2, err2 := decodeLoaded(encodeLoaded(r, applied))
			if err2 != nil || applied2 != applied || r2.version != r.version || len(r2.Values()) != len(r.Values()) {
				t.Fatalf("load answer round trip: %+v %v, %+v %v, %v", r, applied, r2, applied2, err2)
			}
		}
	})
}
