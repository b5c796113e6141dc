package clusterstore

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/clusterstore/gossip"
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
//     an exchange of views with the key's first backup (with no backup in
//     the view, with a majority of the storing nodes the vector holds,
//     those it holds dead included) that agreed, begun less than
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
		s.learn(vector(m.Nodes()))
		s.checkApart()
	}
}

// checkApart notes whether the gossip shows alive a storing node that
// this node's view holds dead: the two sides of a partition that healed,
// each of which declared the other dead. Until their views merge, this
// node may hold keys that the other side took over and wrote, and it
// holds no lease (holds); the next round of exchanges (exchangeAll)
// reaches the other side, and each learns that the other declared it
// dead and comes back.
func (s *Store) checkApart() {
	m := s.members.Load()
	if m == nil {
		return
	}
	v := s.view.Load()
	if v == nil {
		return
	}
	apart := false
	for _, mb := range m.Members() {
		if _, ok := v.nodes[mb.Name]; !ok && mb.Role == gossip.RoleNode && mb.Name != s.cfg.Name && mb.Data != "" {
			apart = true
		}
	}
	if apart && !s.apart.Swap(true) {
		s.cfg.Logger.Warn("clusterstore: the gossip shows alive a node that this node's view holds dead; merging views")
		select {
		case s.renewal <- struct{}{}:
		default:
		}
	} else if !apart && s.apart.Load() {
		// The views merged: the other side's nodes are back in this
		// view, with copies newer than this node's perhaps. Warm
		// again, pulling from them, before holding leases again.
		s.startWarming()
		s.apart.Store(false)
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
	// view, not under the one in which it owned nothing. So must a node
	// that sees another come back from a death it refuted: that one was
	// cut off, not down, and on its side of the cut it may have taken
	// over keys this node owns and written them. A warming that ended
	// while the view held it dead did not pull from it.
	prev, had := cur.vec[s.cfg.Name]
	back := ok && !me.Dead && had && (prev.Dead || prev.Boot != me.Boot) || refuted(cur.vec, vec, s.cfg.Name)
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

// refuted reports whether a storing node other than self, dead in
// before, is alive in after at the same boot: it refuted a death that was
// declared while it was cut off.
func refuted(before, after vector, self string) bool {
	for name, e := range after {
		if p, ok := before[name]; ok && name != self && e.Role == gossip.RoleNode && p.Dead && !e.Dead && p.Boot == e.Boot {
			return true
		}
	}
	return false
}

// comeBack warms and gossips a new state of this node, changed by change
// and at a higher epoch.
func (s *Store) comeBack(change func(*Member)) {
	s.startWarming()
	if m := s.members.Load(); m != nil {
		go m.Update(change)
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
	d := newDecoder(b)
	vec := decodeVector(d)
	if d.Err() != nil {
		return false, d.Err()
	}
	s.learn(vec)
	return resp.Header.Get(viewHeader) == s.view.Load().digest, nil
}

// exchangeAll exchanges views with every other node, at once, and renews
// the leases of those that agree.
func (s *Store) exchangeAll(ctx context.Context) {
	v := s.view.Load()
	data := map[string]string{}
	for name, m := range v.nodes {
		data[name] = m.Data
	}
	if s.apart.Load() {
		// Nodes alive in the gossip but dead in this view (checkApart).
		if ms := s.members.Load(); ms != nil {
			for _, m := range ms.Members() {
				if _, ok := data[m.Name]; !ok && m.Role == gossip.RoleNode && m.Data != "" {
					data[m.Name] = m.Data
				}
			}
		}
	}
	var wg sync.WaitGroup
	for name, addr := range data {
		if name == s.cfg.Name {
			continue
		}
		wg.Go(func() {
			start := time.Now()
			agreed, err := s.exchange(ctx, addr)
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
	s.checkApart()
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
