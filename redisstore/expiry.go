package redisstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessionkit/sessionkit"
)

// Expiry events. Redis removes a session when its key expires and, with
// notify-keyspace-events holding E and x, publishes the key's name on
// __keyevent@<db>__:expired on the node that held it. The store subscribes
// there, on every node in Cluster mode, once a function is registered, and
// keeps subscribing until Close. The notification names only the key: the
// ID is the key's last part, the principal is unknown.

// expiryQueue is how many notifications may wait for delivery. The
// subscription's connection is shared with the store's commands, so
// delivery never holds it: a notification that finds the queue full is
// dropped, and counted in a log line.
const expiryQueue = 4096

// expiryRetry is the pause before subscribing again after a failure, and
// clusterWatch how often the nodes of a Cluster are listed to subscribe on
// new ones.
const (
	expiryRetry  = time.Second
	clusterWatch = 2 * time.Second
)

// subscriber is the state of the store's expiry subscriptions.
type subscriber struct {
	mu      sync.Mutex
	started bool
	stopped bool
	nodes   map[string]bool // Cluster: the nodes subscribed on
	life    context.Context
	end     context.CancelFunc
	wg      sync.WaitGroup
	queue   chan string // the IDs of expired sessions, to deliver
	dropped int
}

var _ sessionkit.ExpiryNotifier = (*Store)(nil)

// NotifyExpired implements sessionkit.ExpiryNotifier. The first call
// subscribes to Redis's expired-key notifications (on every node of a
// Cluster) and waits, up to DialTimeout plus OpTimeout, until each
// subscription is confirmed. Redis publishes them only with
// notify-keyspace-events including "Ex" (or "Ax", or "KEA"): the operator
// sets it (CONFIG SET or redis.conf), as the store never changes a
// server's configuration; the store logs a warning when it can read the
// setting and finds it missing. See the package doc for the guarantee.
func (s *Store) NotifyExpired(fn func(ctx context.Context, expired []sessionkit.Expiry)) {
	if s.expired.Add(fn) {
		s.subscribe()
	}
}

// subscribe starts the subscriptions and the delivery, and waits until the
// subscriptions are confirmed or the wait runs out.
func (s *Store) subscribe() {
	sub := &s.sub
	sub.mu.Lock()
	if sub.started || sub.stopped {
		sub.mu.Unlock()
		return
	}
	sub.started = true
	sub.life, sub.end = context.WithCancel(context.Background())
	sub.queue = make(chan string, expiryQueue)
	sub.nodes = map[string]bool{}
	sub.wg.Add(1)
	go s.deliver()
	var confirmed []chan struct{}
	if s.client.Mode() == rueidis.ClientModeCluster {
		for addr, c := range s.client.Nodes() {
			confirmed = append(confirmed, s.subscribeOn(addr, c))
		}
		sub.wg.Add(1)
		go s.watchCluster()
	} else {
		confirmed = append(confirmed, s.subscribeOn("", s.client))
	}
	sub.mu.Unlock()

	wait := time.NewTimer(s.cfg.DialTimeout + s.cfg.OpTimeout)
	defer wait.Stop()
	for _, c := range confirmed {
		select {
		case <-c:
		case <-wait.C:
			s.cfg.Logger.Warn("redisstore: expiry notifications: a subscription is not confirmed yet; it keeps trying")
			return
		}
	}
}

// subscribeOn starts the subscription loop on one node (addr "" for the
// store's client as a whole) and returns a channel closed once Redis
// confirms it. s.sub.mu is held.
func (s *Store) subscribeOn(addr string, c rueidis.Client) chan struct{} {
	sub := &s.sub
	if addr != "" {
		sub.nodes[addr] = true
	}
	confirmed := make(chan struct{})
	sub.wg.Add(1)
	go func() {
		defer sub.wg.Done()
		var once sync.Once
		channel := "__keyevent@" + strconv.Itoa(s.db) + "__:expired"
		ctx := rueidis.WithOnSubscriptionHook(sub.life, func(ps rueidis.PubSubSubscription) {
			if ps.Kind == "subscribe" {
				once.Do(func() { close(confirmed) })
			}
		})
		checked := false
		for {
			if !checked {
				checked = s.checkNotifications(c, addr)
			}
			err := c.Receive(ctx, c.B().Subscribe().Channel(channel).Build(), s.onExpired)
			if sub.life.Err() != nil {
				return
			}
			if addr != "" {
				// The node's client now, which rueidis may have made
				// anew since (a node removed and added again).
				node, ok := s.client.Nodes()[addr]
				if !ok {
					// The node left the Cluster: watchCluster
					// subscribes on its successor.
					sub.mu.Lock()
					delete(sub.nodes, addr)
					sub.mu.Unlock()
					return
				}
				c = node
			}
			s.cfg.Logger.Warn("redisstore: expiry notifications: subscription ended; subscribing again", "node", addr, "err", err)
			select {
			case <-time.After(expiryRetry):
			case <-sub.life.Done():
				return
			}
		}
	}()
	return confirmed
}

// checkNotifications reads the node's notify-keyspace-events and warns
// when it cannot publish expired events. It reports whether it could
// read the setting (managed services may refuse CONFIG).
func (s *Store) checkNotifications(c rueidis.Client, addr string) bool {
	ctx, cancel := context.WithTimeout(s.sub.life, s.cfg.OpTimeout)
	defer cancel()
	m, err := c.Do(ctx, c.B().ConfigGet().Parameter("notify-keyspace-events").Build()).AsStrMap()
	if err != nil {
		_, refused := rueidis.IsRedisErr(err)
		return refused
	}
	flags := m["notify-keyspace-events"]
	if !strings.ContainsRune(flags, 'E') || !strings.ContainsAny(flags, "xA") {
		s.cfg.Logger.Warn(`redisstore: expiry notifications are off: set notify-keyspace-events to include "Ex" (CONFIG SET notify-keyspace-events Ex) for expired session events`,
			"node", addr, "notify-keyspace-events", flags)
	}
	return true
}

// watchCluster subscribes on the nodes that join the Cluster.
func (s *Store) watchCluster() {
	sub := &s.sub
	defer sub.wg.Done()
	tick := time.NewTicker(clusterWatch)
	defer tick.Stop()
	for {
		select {
		case <-sub.life.Done():
			return
		case <-tick.C:
		}
		nodes := s.client.Nodes()
		sub.mu.Lock()
		for addr, c := range nodes {
			if !sub.nodes[addr] && sub.life.Err() == nil {
				s.subscribeOn(addr, c)
			}
		}
		sub.mu.Unlock()
	}
}

// onExpired queues the ID of an expired session key of this store. It
// runs on the connection's reading goroutine and never blocks it.
func (s *Store) onExpired(m rueidis.PubSubMessage) {
	id, ok := strings.CutPrefix(m.Message, s.prefix+"s:")
	if !ok || !validID(id) {
		return // another key: an index, a counter, another prefix
	}
	select {
	case s.sub.queue <- id:
	default:
		s.sub.mu.Lock()
		s.sub.dropped++
		s.sub.mu.Unlock()
	}
}

// deliver passes the queued IDs to the registered functions, in batches
// of what has arrived.
func (s *Store) deliver() {
	sub := &s.sub
	defer sub.wg.Done()
	for {
		var batch []sessionkit.Expiry
		select {
		case <-sub.life.Done():
			return
		case id := <-sub.queue:
			batch = append(batch, sessionkit.Expiry{ID: id})
		}
	more:
		for len(batch) < expiryQueue {
			select {
			case id := <-sub.queue:
				batch = append(batch, sessionkit.Expiry{ID: id})
			default:
				break more
			}
		}
		s.expired.Deliver(sub.life, batch)
		sub.mu.Lock()
		dropped := sub.dropped
		sub.dropped = 0
		sub.mu.Unlock()
		if dropped > 0 {
			s.cfg.Logger.Warn("redisstore: expiry notifications dropped: the Observer falls behind", "dropped", dropped)
		}
	}
}

// stopExpiry ends the subscriptions and the delivery, and waits for them.
func (s *Store) stopExpiry() {
	sub := &s.sub
	sub.mu.Lock()
	sub.stopped = true
	end := sub.end
	sub.mu.Unlock()
	if end != nil {
		end()
	}
	sub.wg.Wait()
	s.expired.Close()
}

// validID reports whether id is a session ID: 64 lowercase hex digits.
func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
