package clusterstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit"
)

// peer sends replication messages to one node over the data plane, in
// batches: whatever queued up while the previous batch was in flight goes
// in the next request.
type peer struct {
	s    *Store
	addr string
	q    chan outgoing
	stop chan struct{}
	once sync.Once
}

type outgoing struct {
	m     message
	done  chan error        // nil when nobody waits for the ack
	trace map[string]string // the trace context of the write's replicate span, if traced
}

const maxBatch = 256

func (s *Store) peer(addr string) *peer {
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	p := s.peers[addr]
	if p == nil {
		p = &peer{s: s, addr: addr, q: make(chan outgoing, 4096), stop: make(chan struct{})}
		s.peers[addr] = p
		s.wg.Add(1)
		go p.run()
	}
	return p
}

func (p *peer) close() { p.once.Do(func() { close(p.stop) }) }

func (p *peer) send(m message, done chan error) { p.sendTraced(m, done, nil) }

// sendTraced queues m with the trace context of the span replicating it.
func (p *peer) sendTraced(m message, done chan error, trace map[string]string) {
	select {
	case p.q <- outgoing{m, done, trace}:
		p.s.metrics.queue.Inc()
	case <-p.stop:
		if done != nil {
			done <- errClosed
		}
	default:
		p.s.metrics.dropped.Inc() // the peer is far behind: it will fetch full state on the next gap
		if done != nil {
			done <- errors.New("clusterstore: replication queue full")
		}
	}
}

func (p *peer) run() {
	defer p.s.wg.Done()
	batch := make([]outgoing, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-p.stop:
			p.closed()
			return
		case o := <-p.q:
			batch = append(batch, o)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-p.q:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		p.s.metrics.queue.Sub(float64(len(batch)))
		refused, err := p.flush(batch)
		for _, o := range batch {
			if o.done == nil {
				continue
			}
			if err == nil && refused[o.m.h] {
				o.done <- errNotOwner
			} else {
				o.done <- err
			}
		}
	}
}

// closed answers whoever waits on a message still queued at close.
func (p *peer) closed() {
	for {
		select {
		case o := <-p.q:
			p.s.metrics.queue.Dec()
			if o.done != nil {
				o.done <- errClosed
			}
		default:
			return
		}
	}
}

// flush sends one batch. The peer answers with the sessions whose full
// state it needs (it met a gap), which are sent at once, and those whose
// messages it refused under the view both hold.
func (p *peer) flush(batch []outgoing) (refused map[[32]byte]bool, err error) {
	e := encoder{}.uvarint(uint64(len(batch)))
	for i := range batch {
		e = e.tracedMessage(&batch[i].m, batch[i].trace)
	}
	start := time.Now()
	b, err := p.s.call(context.Background(), p.addr, "/rpc/replicate", e)
	p.s.metrics.lag.Observe(time.Since(start).Seconds())
	if err != nil {
		p.s.cfg.Logger.Debug("clusterstore: replication failed", "peer", p.addr, "err", err)
		return nil, err
	}
	d := newDecoder(b)
	reply := d.replicateReply()
	if d.Err() != nil {
		return nil, d.Err()
	}
	for _, h := range reply.need {
		if m, ok := p.s.table.full(h); ok {
			// The owner's record is sent as its write: it replaces a
			// copy the backup holds at a version as high (see apply).
			owners, _ := p.s.owners(h)
			m.write = len(owners) > 0 && owners[0] == p.s.cfg.Name
			p.send(m, nil)
		}
	}
	for _, h := range reply.refused {
		if refused == nil {
			refused = map[[32]byte]bool{}
		}
		refused[h] = true
	}
	return refused, nil
}

// replicate ships m to the backups and waits for the acks that Config.Ack
// asks for. The write stands locally whatever happens: an error means it
// may not have reached enough copies.
func (s *Store) replicate(ctx context.Context, m message, backups []string) (err error) {
	if len(backups) == 0 {
		return nil
	}
	var trace map[string]string
	if s.cfg.Trace != nil {
		var end func(error)
		ctx, end = s.cfg.Trace.Start(ctx, spanReplicate)
		defer func() { end(err) }()
		trace = s.cfg.Trace.Inject(ctx)
	}
	v := s.view.Load()
	need := 0
	switch s.cfg.Ack {
	case AckOne:
		need = 1
	case AckAll:
		need = len(backups)
	}
	var done chan error
	if need > 0 {
		done = make(chan error, len(backups))
	}
	sent := 0
	for _, name := range backups {
		if n, ok := v.nodes[name]; ok {
			s.peer(n.Data).sendTraced(m, done, trace)
			sent++
		}
	}
	need = min(need, sent)
	var lastErr error
	for got, answered := 0, 0; got < need; {
		select {
		case err := <-done:
			answered++
			switch {
			case err == nil:
				got++
			case errors.Is(err, errNotOwner):
				return err
			case down(err):
				// The backup is down (it refused the connection, or
				// the open one broke) and gossip has not said so yet:
				// nobody to wait for. The write stands on the copies
				// that are up, and rebalancing restores the others.
				// The lease keeps this from lasting: without its
				// backup's answer the owner stops writing within
				// Config.Lease, until gossip names the next backup.
				need = min(need, sent-(answered-got))
				lastErr = err
			default:
				lastErr = err
			}
			if answered == sent && got < need {
				return fmt.Errorf("%w: %d of %d backups acknowledged: %w", sessionkit.ErrUnavailable, got, need, lastErr)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// down reports whether err says a backup is not running: it refused the
// connection, or the open connection broke before it answered.
func down(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.EPIPE, syscall.ECONNRESET, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// background resyncs after membership changes and sweeps expired sessions.
func (s *Store) background() {
	defer s.wg.Done()
	sweep := time.NewTicker(s.cfg.SweepInterval)
	defer sweep.Stop()
	var last *view
	for {
		select {
		case <-s.stop:
			return
		case now := <-sweep.C:
			s.table.sweep(now)
			s.handOver(s.table.expired.Take())
		case <-s.resync:
			// Let a burst of membership events settle.
			select {
			case <-time.After(200 * time.Millisecond):
			case <-s.stop:
				return
			}
			select {
			case <-s.resync:
			default:
			}
			last = s.rebalance(last)
		}
	}
}

// rebalance restores each session's copies under the current view: an
// owner pushes the full state to its backups (receivers ignore what they
// already have); a node that no longer owns or backs up a session hands
// it to its owner and forgets it. It returns the view it worked on.
func (s *Store) rebalance(prev *view) *view {
	v := s.view.Load()
	if v.ring == nil {
		return v
	}
	promoted, pushed, released := 0, 0, 0
	s.settle()
	for h, version := range s.table.hashes() {
		owners, _ := s.owners(h)
		if len(owners) == 0 {
			continue
		}
		m, ok := s.table.full(h)
		if !ok {
			continue
		}
		if owners[0] == s.cfg.Name {
			if prev != nil && prev.ring != nil {
				var buf [1]string
				if prev.ring.Owners(h[:], 1, buf[:0])[0] != s.cfg.Name {
					promoted++
				}
			}
			for _, b := range owners[1:] {
				s.peer(v.nodes[b].Data).send(m, nil)
				pushed++
			}
			continue
		}
		mine := false
		for _, o := range owners[1:] {
			mine = mine || o == s.cfg.Name
		}
		if mine {
			// Still a backup. If this node owned the key before the
			// change, hand the session to the new owner (a node that
			// joined or came back) and stay its backup.
			if prev != nil && prev.ring != nil {
				var buf [1]string
				if prev.ring.Owners(h[:], 1, buf[:0])[0] == s.cfg.Name {
					s.peer(v.nodes[owners[0]].Data).send(m, nil)
					pushed++
				}
			}
			continue
		}
		// Neither owner nor backup any more: hand over, then forget.
		done := make(chan error, 1)
		s.peer(v.nodes[owners[0]].Data).send(m, done)
		go func() {
			if <-done == nil {
				s.table.drop(h, version)
			}
		}()
		released++
	}
	s.metrics.promotions.Add(float64(promoted))
	if promoted+pushed+released > 0 {
		s.cfg.Logger.Info("clusterstore: rebalanced", "nodes", len(v.nodes), "promoted", promoted, "copies_pushed", pushed, "handed_over", released)
	}
	return v
}
