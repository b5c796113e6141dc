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

	"github.com/sessionkit/sessionkit"
)

// Hand-off and warming. A node that leaves hands every session it holds
// to the nodes that hold it from then on; a node that may have missed
// writes to its keys (it joined, or came back) is warming: it pulls the
// copies of its keys from every node and, until done, reconciles each key
// it serves with the key's other holders first.

// Drain prepares the node's leave: it takes the node off the ring, tells
// every node at once rather than at gossip's pace (routers, which only
// gossip, stop sending it new requests within a few gossip rounds), and
// hands every session it holds to the nodes that hold it from then on,
// waiting (bounded by ctx) for their acks. A graceful leave loses no
// session, even with no backups. The node still answers reads of its
// copies and forwards requests until Close. Close drains first. Drain
// may be called more than once: each call hands every session over
// again, so a drain cut short by its ctx can be finished.
func (s *Store) Drain(ctx context.Context) error {
	m := s.members.Load()
	if m == nil {
		return nil
	}
	s.draining.Do(func() {
		if err := m.Update(func(self *Member) { self.Draining = true }); err != nil {
			s.cfg.Logger.Warn("clusterstore: gossiping the drain", "err", err)
		}
		s.learn(vector(m.Nodes()))
	})
	s.exchangeAll(ctx)
	return s.handOff(ctx)
}

// handOff gives every session this node holds to the nodes that hold it
// under the current view, which no longer has this node on its ring.
func (s *Store) handOff(ctx context.Context) error {
	v := s.view.Load()
	if v.ring == nil {
		return nil
	}
	var pending []chan error
	s.settle()
	for h := range s.table.hashes() {
		m, ok := s.table.full(h)
		if !ok {
			continue
		}
		for _, name := range v.owners(h, s.copies()) {
			done := make(chan error, 1)
			s.peer(v.nodes[name].Data).send(m, done)
			pending = append(pending, done)
		}
	}
	failed := 0
	for _, done := range pending {
		select {
		case err := <-done:
			if err != nil {
				failed++
			}
		case <-ctx.Done():
			s.cfg.Logger.Warn("clusterstore: hand-off timed out", "copies", len(pending))
			return ctx.Err()
		}
	}
	s.cfg.Logger.Info("clusterstore: handed sessions over before leaving", "copies", len(pending), "failed", failed)
	if failed > 0 {
		return fmt.Errorf("clusterstore: %d of %d copies not handed over", failed, len(pending))
	}
	return nil
}

// copyAt returns the copy (record or tombstone) that a node holds. With
// warm, a node that is warming answers with an error instead.
func (s *Store) copyAt(ctx context.Context, name string, h [32]byte, warm bool) (message, bool, error) {
	if name == s.cfg.Name {
		if warm && !s.warm.Load() {
			return message{}, false, errWarming
		}
		m, ok := s.table.full(h)
		return m, ok, nil
	}
	v := s.view.Load()
	n, ok := v.nodes[name]
	if !ok {
		return message{}, false, errLeft
	}
	b, err := s.call(ctx, n.Data, "/rpc/copy", encoder{}.copyRequest(&copyRequest{hash: h, warm: warm}))
	if errors.Is(classify(err), sessionkit.ErrNotFound) {
		return message{}, false, nil
	}
	if err != nil {
		return message{}, false, err
	}
	d := newDecoder(b)
	m := d.message()
	return m, d.Err() == nil, d.Err()
}

// gather asks the named nodes, at once, for their copies of a key and
// applies every one: versions decide, and a tombstone wins over older
// data. It reports whether this node then holds the session, and an
// error if a node did not answer.
func (s *Store) gather(ctx context.Context, h [32]byte, names []string) (bool, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for _, name := range names {
		if name == s.cfg.Name {
			continue
		}
		wg.Go(func() {
			m, ok, err := s.copyAt(ctx, name, h, false)
			switch {
			case errors.Is(err, errLeft):
			case err != nil:
				mu.Lock()
				failed = fmt.Errorf("clusterstore: %s did not give its copy: %w", name, err)
				mu.Unlock()
			case ok:
				m.write = false
				s.table.apply(m)
				s.metrics.readThrough.Inc()
			}
		})
	}
	wg.Wait()
	_, ok := s.table.load(h)
	return ok, failed
}

// adopt reads a session this node owns but lacks from the other nodes,
// for a while after a membership change (a node that joined or came back
// owns keys whose sessions are still on their previous holders until they
// are handed over), and keeps it. It reports whether it found the
// session.
func (s *Store) adopt(ctx context.Context, h [32]byte, v *view) bool {
	if time.Since(time.Unix(0, s.changedAt.Load())) > adoptWindow {
		return false
	}
	found, _ := s.gather(ctx, h, v.holders(h))
	return found
}

// adoptWindow is how long after a membership change an owner that misses
// a session looks for it on the other nodes.
const adoptWindow = time.Minute

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
	resp, err := s.post(ctx, addr, "/rpc/pull", encoder{}.string(s.cfg.Name))
	if err == nil && resp.StatusCode == http.StatusMisdirectedRequest {
		resp.Body.Close()
		if _, err = s.exchange(ctx, addr); err == nil {
			resp, err = s.post(ctx, addr, "/rpc/pull", encoder{}.string(s.cfg.Name))
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
		d := newDecoder(b)
		m := d.message()
		if d.Err() != nil {
			return n, d.Err()
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
	var buf encoder
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
		b := encoder(nil).message(&m)
		buf = append(buf.uvarint(uint64(len(b))), b...)
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
