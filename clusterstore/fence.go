package clusterstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Fencing. Two nodes must never both accept writes for one key, though
// gossip tells each of a change at its own moment. Three rules see to it:
//
//   - Every data plane call carries the digest of the sender's view; a
//     receiver whose view differs answers with its vector instead, both
//     merge, and the call is made again. A receiver that does not own the
//     key under the merged view forwards the call to the owner itself,
//     and a backup refuses a replicated write from a node that does not
//     own the key (the writer undoes it and follows the key).
//   - A node serves and writes a key only while it holds the key's lease:
//     an exchange of views with the key's first backup (with no backups,
//     with a majority of the nodes) that agreed, begun less than
//     Config.Lease ago on the monotonic clock. The lease is shorter than
//     failure detection, so a node cut off or paused stops serving its
//     keys before the others take them over.
//   - A node that may have missed writes to its keys — it joined, it came
//     back after the others declared it dead, or it was paused or cut off
//     longer than the lease — is warming: it pulls, from every node, the
//     copies of the keys it owns or backs up, and until that is done it
//     reconciles each key it serves by version with the key's other
//     holders first (a tombstone wins over older data).

// gossiped takes in a change of gossip membership.
func (s *Store) gossiped([]Member) {
	if m := s.members.Load(); m != nil {
		s.learn(m.vector())
	}
}

// learn merges a vector heard from gossip or from a peer into this node's
// view, and reports whether the view changed.
func (s *Store) learn(o vector) bool {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	cur := s.view.Load()
	vec, changed := cur.vec.merge(o)
	if !changed {
		return false
	}
	me, ok := vec[s.cfg.Name]
	switch {
	case ok && me.Boot > s.boot:
		// A former run of this node stamped a later boot: the wall
		// clock stepped back since. Boot after it, or the others
		// would take this run for an older one.
		s.boot, s.refuted = me.Boot+1, 0
		s.cfg.Logger.Warn("clusterstore: the clock is behind this node's former run; taking a later boot stamp")
		boot := s.boot
		s.comeBack(func(self *Member) { self.Boot = boot })
	case ok && me.Dead && me.Boot == s.boot && me.Epoch >= s.refuted:
		// The others declared this node dead: it may have missed
		// writes to its keys. Say it is alive, at a higher epoch, and
		// catch up before serving them again; once per death.
		s.refuted = me.Epoch + 1
		s.cfg.Logger.Warn("clusterstore: the cluster declared this node dead; coming back")
		s.comeBack(func(*Member) {})
	}
	v, err := newView(vec, s.cfg.Ring)
	if err != nil {
		s.cfg.Logger.Error("clusterstore: ring", "err", err)
		return false
	}
	// This node back on the ring (its death refuted, or a new boot
	// stamp) takes keys whose newest copies are elsewhere: it is cold
	// before the view shows it owning them, and it pulls under that
	// view, not under the one in which it owned nothing.
	prev, had := cur.vec[s.cfg.Name]
	back := ok && !me.Dead && had && (prev.Dead || prev.Boot != me.Boot)
	if back {
		s.cool()
	}
	s.view.Store(v)
	if back {
		s.startWarming()
	}
	s.changedAt.Store(time.Now().UnixNano())
	s.metrics.members.Set(float64(len(v.nodes)))
	for _, ch := range []chan struct{}{s.resync, s.renewal} { // rebalance; agree on the new view at once
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return true
}

// comeBack warms and gossips a new state of this node, changed by change
// and at a higher epoch.
func (s *Store) comeBack(change func(*Member)) {
	s.startWarming()
	if m := s.members.Load(); m != nil {
		go m.update(change)
	}
}

// exchange swaps views with the node at addr; both merge. It reports
// whether they then agree.
func (s *Store) exchange(ctx context.Context, addr string) (bool, error) {
	resp, err := s.post(ctx, addr, "/rpc/view", s.view.Load().vec.encode(nil))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, &rpcError{status: resp.StatusCode, msg: string(b)}
	}
	d := dec{b: b}
	vec := decodeVector(&d)
	if d.err != nil {
		return false, d.err
	}
	s.learn(vec)
	return resp.Header.Get(viewHeader) == s.view.Load().digest, nil
}

// exchangeAll exchanges views with every other node, at once, and renews
// the leases of those that agree.
func (s *Store) exchangeAll(ctx context.Context) {
	v := s.view.Load()
	var wg sync.WaitGroup
	for name, m := range v.nodes {
		if name == s.cfg.Name {
			continue
		}
		wg.Go(func() {
			start := time.Now()
			agreed, err := s.exchange(ctx, m.Data)
			if err != nil || !agreed {
				return
			}
			s.leaseMu.Lock()
			if start.After(s.leases[name]) {
				s.leases[name] = start
			}
			s.leaseMu.Unlock()
		})
	}
	wg.Wait()
}

// renewLeases exchanges views with every node four times a lease. A round
// that starts later than failure detection after the previous one means
// this process was paused (or starved): the others may have declared it
// dead and written its keys elsewhere, so it warms again.
func (s *Store) renewLeases() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.Lease / 4)
	defer tick.Stop()
	detect := time.Duration(s.cfg.Timing.SuspicionMult) * s.cfg.Timing.ProbeInterval
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.renewal:
		}
		s.leaseMu.Lock()
		gap := time.Since(s.round)
		s.round = time.Now()
		s.leaseMu.Unlock()
		if gap > detect {
			s.cfg.Logger.Warn("clusterstore: this node was paused longer than failure detection; catching up", "pause", gap.Round(time.Millisecond))
			s.startWarming()
		}
		// A peer that hangs holds a round up for half a lease at most,
		// so the others' leases are renewed in time.
		ctx, cancel := context.WithTimeout(s.life, s.cfg.Lease/2)
		s.exchangeAll(ctx)
		cancel()
	}
}

// holds reports whether this node holds the lease of a key it owns with
// the given owners under v.
func (s *Store) holds(v *view, owners []string) bool {
	now := time.Now()
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if now.Sub(s.round) > s.cfg.Lease {
		return false // paused: the lease loop has not run since
	}
	if len(owners) > 1 {
		return now.Sub(s.leases[owners[1]]) < s.cfg.Lease
	}
	agree := 1 // this node
	for name := range v.nodes {
		if name != s.cfg.Name && now.Sub(s.leases[name]) < s.cfg.Lease {
			agree++
		}
	}
	return 2*agree > len(v.nodes)
}

// awaitLease waits, up to FailoverWait, until this node holds the key's
// lease or no longer owns it.
func (s *Store) awaitLease(ctx context.Context, h [32]byte) error {
	err := s.await(ctx, func() bool {
		owners, v := s.owners(h)
		if len(owners) == 0 || owners[0] != s.cfg.Name || s.holds(v, owners) {
			return true
		}
		select {
		case s.renewal <- struct{}{}:
		default:
		}
		return false
	})
	if errors.Is(err, errTimeout) {
		return unavailable(fmt.Errorf("clusterstore: no lease on the session: its backup has not agreed on the view for %v", s.cfg.FailoverWait))
	}
	return err
}

// startWarming marks this node as missing writes to its keys and starts
// pulling them.
func (s *Store) startWarming() {
	s.cool()
	select {
	case s.rewarm <- struct{}{}:
	default:
	}
}

// cool marks this node as missing writes to its keys, and ends the
// warming round under way, if any, without making the node warm.
func (s *Store) cool() {
	s.warmMu.Lock()
	s.warmGen.Add(1)
	s.warm.Store(false)
	s.metrics.warm.Set(0)
	s.warmMu.Unlock()
}

// Warm reports whether the node holds the newest copy of every session
// it owns: false while it pulls them after joining or coming back.
func (s *Store) Warm() bool { return s.warm.Load() }

// warming pulls, whenever warming starts, the copies of the keys this
// node owns or backs up from every other node, retrying until each has
// answered or left.
func (s *Store) warming() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.rewarm:
		}
		gen := s.warmGen.Load()
		start := time.Now()
		done := map[string]bool{}
		pulled := 0
		for {
			v := s.view.Load()
			pending := 0
			for name, m := range v.nodes {
				if name == s.cfg.Name || done[name] {
					continue
				}
				ctx, cancel := context.WithTimeout(s.life, time.Minute)
				n, err := s.pull(ctx, m.Data)
				cancel()
				pulled += n
				if err != nil {
					s.cfg.Logger.Debug("clusterstore: pull", "node", name, "err", err)
					pending++
					continue
				}
				done[name] = true
			}
			if pending == 0 || s.warmGen.Load() != gen {
				break
			}
			select {
			case <-s.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		s.warmMu.Lock()
		if s.warmGen.Load() == gen {
			s.warm.Store(true)
			s.metrics.warm.Set(1)
			s.cfg.Logger.Info("clusterstore: warm", "pulled", pulled, "from", len(done), "took", time.Since(start).Round(time.Millisecond))
		}
		s.warmMu.Unlock()
	}
}

// pull fetches from the node at addr the copies of every key this node
// owns or backs up, streamed, and applies them. It returns how many it
// applied.
func (s *Store) pull(ctx context.Context, addr string) (int, error) {
	resp, err := s.post(ctx, addr, "/rpc/pull", enc{}.s(s.cfg.Name))
	if err == nil && resp.StatusCode == http.StatusMisdirectedRequest {
		resp.Body.Close()
		if _, err = s.exchange(ctx, addr); err == nil {
			resp, err = s.post(ctx, addr, "/rpc/pull", enc{}.s(s.cfg.Name))
		}
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, &rpcError{status: resp.StatusCode, msg: string(b)}
	}
	r := bufio.NewReader(resp.Body)
	n := 0
	for {
		size, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if size > 64<<20 {
			return n, errMalformed
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return n, err
		}
		d := dec{b: b}
		m := decodeMessage(&d)
		if d.err != nil {
			return n, d.err
		}
		m.write = false
		s.table.apply(m)
		n++
	}
}

// servePull streams to w the copies of the keys that node owns or backs
// up under this node's view.
func (s *Store) servePull(w http.ResponseWriter, node string) {
	f, _ := w.(http.Flusher)
	var buf enc
	sent := 0
	s.settle()
	for h := range s.table.hashes() {
		owners, _ := s.owners(h)
		if !slices.Contains(owners, node) {
			continue
		}
		m, ok := s.table.full(h)
		if !ok {
			continue
		}
		b := m.encode(nil)
		buf = append(buf.u(uint64(len(b))), b...)
		if sent++; len(buf) > 64<<10 {
			if _, err := w.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
			if f != nil {
				f.Flush()
			}
		}
	}
	w.Write(buf)
}

// reconcile brings a key this node owns up to date with its other holders
// while the node is warming: every copy is applied, and versions decide.
// A holder that does not answer may hold a newer copy: the key is not
// served until it does.
func (s *Store) reconcile(ctx context.Context, h [32]byte, v *view) error {
	if s.warm.Load() {
		return nil
	}
	holders := v.holders(h)
	_, err := s.gather(ctx, h, holders[:min(len(holders), s.copies()+2)])
	return err
}

// Headers of the data plane.
const (
	viewHeader     = "Sessionkit-View"     // the digest of the sender's (or answerer's) view
	hopsHeader     = "Sessionkit-Hops"     // how many nodes forwarded the call
	deadlineHeader = "Sessionkit-Deadline" // when the caller stops waiting, Unix nanoseconds
	fromHeader     = "Sessionkit-From"     // the calling node's name
)

// maxHops bounds forwarding: a call is forwarded at most twice in all.
const maxHops = 2

type hopsKey struct{}

func hopsOf(ctx context.Context) int {
	n, _ := ctx.Value(hopsKey{}).(int)
	return n
}

// errViewsDiffer is returned when a call was refused for a differing view
// more often than one change of membership explains.
var errViewsDiffer = unavailable(errors.New("clusterstore: the nodes' views keep changing"))

// errWarming answers a read that needs a warm node's copy.
var errWarming = unavailable(errors.New("clusterstore: the node is warming"))
