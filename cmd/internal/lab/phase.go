package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/demo"
	"github.com/sessionkit/sessionkit/internal/proc"
)

// cluster is one strategy's running demo cluster and, for the redis
// strategy, its Redis server.
type cluster struct {
	st      Strategy
	d       *demo.Demo
	cancel  context.CancelFunc
	redis   *proc.Process
	rAddr   string
	central int64 // the central store's bytes when the cluster was ready
	method  string
}

// startCluster starts a demo cluster of n nodes for st. It is stopped
// when ctx ends or by stop.
func startCluster(ctx context.Context, cfg Config, st Strategy, n int) (*cluster, error) {
	ctx, cancel := context.WithCancel(ctx)
	c := &cluster{st: st, cancel: cancel}
	dc := demo.Config{Binary: cfg.Binary, Strategy: st.Demo, Nodes: n, Backups: st.Backups, Listen: "127.0.0.1:0", Logger: cfg.Logger}
	if st.Demo == "redis" {
		if err := c.startRedis(ctx, cfg.Redis); err != nil {
			cancel()
			return nil, err
		}
		dc.Redis = "redis://" + c.rAddr
	}
	d, err := demo.Start(ctx, dc)
	if err != nil {
		c.stop()
		return nil, err
	}
	c.d = d
	switch {
	case c.redis != nil:
		c.method = "Redis MEMORY USAGE summed over every key"
		c.central, err = redisBytes(ctx, c.rAddr)
	case d.SQLiteFile() != "":
		c.method = "bytes of the rows of the SQLite sessions table"
		c.central, err = sqliteBytes(ctx, d.SQLiteFile())
	}
	if err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// startRedis starts a redis-server without persistence on a free port.
func (c *cluster) startRedis(ctx context.Context, program string) error {
	bin, err := exec.LookPath(program)
	if err != nil {
		return fmt.Errorf("redis-server not found (%v): install it (Debian: apt-get install redis-server)", err)
	}
	dir, err := os.MkdirTemp("", "sessionkit-lab-redis")
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		os.RemoveAll(dir)
	}()
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	p, err := proc.Start(ctx, nil, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err != nil {
		return err
	}
	c.redis, c.rAddr = p, fmt.Sprintf("127.0.0.1:%d", port)
	return proc.WaitFor(15*time.Second, func() error {
		select {
		case <-p.Done():
			return proc.Stop(fmt.Errorf("redis-server exited: %s", p.Output()))
		default:
		}
		return redisPing(ctx, c.rAddr)
	})
}

// stop kills every process of the cluster and waits for them.
func (c *cluster) stop() {
	c.cancel()
	if c.d != nil {
		c.d.Wait()
	}
	if c.redis != nil {
		<-c.redis.Done()
	}
}

// pids returns the cluster's live processes by name: the router, the
// nodes, redis-server.
func (c *cluster) pids() map[string]int {
	m := map[string]int{"router": c.d.RouterPid()}
	for _, n := range c.d.Nodes() {
		if n.Alive {
			m[n.Name] = n.Pid
		}
	}
	if c.redis != nil {
		m["redis-server"] = c.redis.Pid()
	}
	return m
}

// written returns the bytes written so far by the router and the
// back-end processes.
func (c *cluster) written() (router, backend int64) {
	for name, pid := range c.pids() {
		n, err := procWritten(pid)
		if err != nil {
			continue
		}
		if name == "router" {
			router = n
		} else {
			backend += n
		}
	}
	return router, backend
}

// memory reads what the stores hold and the processes' RSS.
func (c *cluster) memory(ctx context.Context) (Memory, error) {
	m := Memory{SessionBytes: map[string]int64{}, Sessions: map[string]int64{}, RSS: map[string]int64{}, CentralMethod: c.method}
	var errs []error
	for name, pid := range c.pids() {
		rss, err := procRSS(pid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.RSS[name] = rss
	}
	for _, n := range c.d.Nodes() {
		if !n.Alive {
			continue
		}
		url, token := c.d.NodeAdmin(n.Name)
		if url == "" {
			m.SessionBytes[n.Name] = 0 // the store holds nothing on the node
			m.Sessions[n.Name] = 0
			continue
		}
		st, err := getClusterStats(ctx, url, token)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.SessionBytes[n.Name] = int64(st.Bytes)
		m.Sessions[n.Name] = int64(st.Owned + st.Backups)
	}
	switch {
	case c.redis != nil:
		used, err := redisBytes(ctx, c.rAddr)
		if err != nil {
			errs = append(errs, err)
		}
		m.Central = used - c.central
	case c.d.SQLiteFile() != "":
		n, err := sqliteBytes(ctx, c.d.SQLiteFile())
		if err != nil {
			errs = append(errs, err)
		}
		m.Central = n - c.central
	}
	return m, errors.Join(errs...)
}

// sessions returns, for the cluster store, the sessions each node owns.
func (c *cluster) sessions(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, n := range c.d.Nodes() {
		if !n.Alive {
			continue
		}
		url, token := c.d.NodeAdmin(n.Name)
		if url == "" {
			return nil, nil
		}
		st, err := getClusterStats(ctx, url, token)
		if err != nil {
			return nil, err
		}
		out[n.Name] = st.Owned
	}
	return out, nil
}

// runPhase measures one strategy: the main run with its two events, then
// the memory growth runs. It never fails: what cannot run is reported.
func runPhase(ctx context.Context, cfg Config, st Strategy, pr *progress) *Phase {
	ph := &Phase{Strategy: st}
	// Every phase is bounded: the run, start-up and shutdown of each
	// cluster, and the growth runs.
	budget := cfg.Duration + time.Minute + time.Duration(len(cfg.Growth))*90*time.Second
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	pr.start(st.Name, cfg.Duration)
	c, err := startCluster(ctx, cfg, st, cfg.Nodes)
	if err != nil {
		ph.Reason = "could not start: " + err.Error()
		pr.end(st.Name + ": not measured: " + firstLine(ph.Reason))
		return ph
	}
	ph.Measured = true
	mainRun(ctx, cfg, c, ph, pr)
	c.stop()
	pr.end(fmt.Sprintf("%s: %d requests, %d failed, p50 %.1f ms, p99 %.1f ms", st.Name, ph.Requests, ph.Failed, ph.Latency.P50, ph.Latency.P99))

	for _, n := range cfg.Growth {
		users := max(1, (cfg.Users*n+cfg.Nodes/2)/cfg.Nodes)
		pr.note(fmt.Sprintf("%s: memory with %d nodes, %d users", st.Name, n, users))
		g := Growth{Nodes: n, Users: users}
		g.Memory, err = growthRun(ctx, cfg, st, n, users)
		if err != nil {
			g.Reason = err.Error()
			ph.Problems = append(ph.Problems, fmt.Sprintf("growth with %d nodes: %v", n, err))
		}
		ph.Growth = append(ph.Growth, g)
	}
	return ph
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// mainRun runs the users for cfg.Duration, kills a node at 40% of it and
// adds one at 70%, and fills ph.
func mainRun(ctx context.Context, cfg Config, c *cluster, ph *Phase, pr *progress) {
	D := cfg.Duration
	w := newWorkload(c.d.RouterURL, cfg.Users, cfg.Think)
	w.start = time.Now()
	uctx, stopUsers := context.WithDeadline(ctx, w.start.Add(D))
	defer stopUsers()
	var wg sync.WaitGroup
	wg.Go(func() { w.run(uctx, cfg.Users, D/10, 1) })

	var probs []string
	problem := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	at := func(f float64) time.Duration { return time.Duration(f * float64(D)) }
	waitUntil := func(t time.Duration) bool {
		for {
			left := t - time.Since(w.start)
			if left <= 0 {
				return ctx.Err() == nil
			}
			pr.tick(time.Since(w.start), w.wire.done.Load())
			if !sleep(ctx, min(left, 250*time.Millisecond)) {
				return false
			}
		}
	}

	// Bytes in the steady state, between the ramp and the first event.
	type snap struct {
		t                    time.Duration
		cw, cr, reqs, rw, bw int64
	}
	take := func() snap {
		rw, bw := c.written()
		return snap{time.Since(w.start), w.wire.written.Load(), w.wire.read.Load(), w.wire.done.Load(), rw, bw}
	}
	var a, b snap
	var killAt, addAt time.Duration
	kill := Event{OwnedByNode: -1, SessionsThen: -1, Users: cfg.Users}
	add := Event{OwnedByNode: -1, SessionsThen: -1, Users: cfg.Users}
	if waitUntil(at(0.15)) {
		a = take()
	}
	if waitUntil(at(0.4)) {
		b = take()
		m, err := c.memory(ctx)
		if err != nil {
			problem("memory: %v", err)
		}
		ph.Memory = m
		// The crash hits the node that serves the most users: the
		// router's least-loaded choice for new sessions can leave a node
		// with few, and a crash of an idle node would show nothing.
		victim, served := w.busiest()
		if victim == "" {
			nodes := c.d.Nodes()
			victim = nodes[len(nodes)-1].Name
		}
		kill.ServedUsers = served
		if owned, err := c.sessions(ctx); err != nil {
			problem("sessions owned: %v", err)
		} else if owned != nil {
			kill.OwnedByNode, kill.SessionsThen = owned[victim], 0
			for _, n := range owned {
				kill.SessionsThen += n
			}
		}
		killAt = time.Since(w.start)
		if err := c.d.Kill(victim); err != nil {
			problem("kill %s: %v", victim, err)
		}
		kill.Name, kill.At = "kill "+victim, secs(killAt)
		ph.timeline = append(ph.timeline, timeMark{killAt, kill.Name})
		pr.note(fmt.Sprintf("%s: killed %s (SIGKILL)", ph.Strategy.Name, victim))
	}
	if waitUntil(at(0.7)) {
		addAt = time.Since(w.start)
		name, err := c.d.Add()
		if err != nil {
			problem("add a node: %v", err)
			name = "(failed)"
		}
		add.Name, add.At = "add "+name, secs(addAt)
		ph.timeline = append(ph.timeline, timeMark{addAt, add.Name})
		pr.note(fmt.Sprintf("%s: added %s", ph.Strategy.Name, name))
	}
	waitUntil(D)
	stopUsers()
	wg.Wait()
	ph.Samples = w.samples
	end := D

	// Measures.
	var lat []time.Duration
	for _, s := range w.samples {
		lat = append(lat, s.Latency)
		if !okCode(s.Code) {
			ph.Failed++
		}
	}
	ph.Requests, ph.Latency = len(w.samples), quantiles(lat)
	var events []time.Duration
	for _, m := range ph.timeline {
		events = append(events, m.at)
	}
	if reqs := b.reqs - a.reqs; reqs > 0 && b.t > 0 {
		ph.Steady = window(w, a.t, b.t, events)
		ph.ClientBytes = Bytes{Request: float64(b.cw-a.cw) / float64(reqs), Response: float64(b.cr-a.cr) / float64(reqs)}
		// The router's writes less what it wrote to the clients are its
		// writes to the nodes.
		backend := (b.rw - a.rw) - (b.cr - a.cr) + (b.bw - a.bw)
		ph.BackendBytes = float64(backend) / float64(reqs)
		ph.BackendMethod = backendMethod(ph.Strategy)
	} else {
		problem("no steady window: the run ended before its first event")
	}
	// The steady state ends where the seconds around the kill begin, so
	// that requests in flight at the kill count only there.
	around := max(time.Second, min(5*time.Second, D/6))
	ph.Before = window(w, 0, min(killAt-around/5, end), events)
	if killAt > 0 {
		kill.Around = window(w, killAt-around/5, killAt+around*4/5, events)
		kill.Until = window(w, killAt, orDefault(addAt, end), events)
		ph.Events = append(ph.Events, kill)
	}
	if addAt > 0 {
		add.Around = window(w, addAt-around/5, addAt+around*4/5, events)
		add.Until = window(w, addAt, end, events)
		ph.Events = append(ph.Events, add)
	}
	ph.Seconds = perSecond(w.samples, end)
	ph.Problems = append(ph.Problems, probs...)
}

// orDefault returns t, or def when t is 0.
func orDefault(t, def time.Duration) time.Duration {
	if t == 0 {
		return def
	}
	return t
}

func okCode(code int) bool { return code >= 200 && code < 300 }

func backendMethod(st Strategy) string {
	base := "bytes written by the router and the nodes (wchar in /proc/PID/io), less the router's writes to the clients"
	switch st.Demo {
	case "redis":
		return base + ", plus redis-server's writes: router to node, node to Redis and back"
	case "sql":
		return base + ": router to node, and the nodes' writes to the SQLite file and its WAL (reads of the file not counted)"
	case "cookie":
		return base + ": router to node (the sealed cookie travels on to the node)"
	}
	return base + ": router to node, replication and gossip between nodes"
}

// window summarizes the requests sent in [from, to) and the losses
// caused then. A loss is caused by the first event (at the times events)
// between the last time the user's session was seen whole and the time
// the loss was found; a loss with no event in between is counted when it
// was found.
func window(w *workload, from, to time.Duration, events []time.Duration) Window {
	win := Window{From: secs(from), To: secs(to)}
	var lat []time.Duration
	for _, s := range w.samples {
		if s.T < from || s.T >= to {
			continue
		}
		win.Requests++
		lat = append(lat, s.Latency)
		if !okCode(s.Code) {
			win.Failed++
		}
	}
	win.Latency = quantiles(lat)
	sessions, carts := map[int]bool{}, map[int]bool{}
	for _, l := range w.losses {
		at := l.t
		for _, e := range events {
			if l.seen <= e && e <= l.t {
				at = e
				break
			}
		}
		if at < from || at >= to {
			continue
		}
		if l.session {
			sessions[l.user] = true
		} else {
			carts[l.user] = true
		}
		win.LostItems += l.items
	}
	win.LostSession, win.LostCart = len(sessions), len(carts)
	return win
}

// perSecond buckets the samples by the second they were sent in.
func perSecond(samples []Sample, end time.Duration) []Second {
	n := int(end/time.Second) + 1
	lats := make([][]time.Duration, n)
	out := make([]Second, n)
	for i := range out {
		out[i].T = i
	}
	for _, s := range samples {
		i := int(s.T / time.Second)
		if i < 0 || i >= n {
			continue
		}
		out[i].Requests++
		if !okCode(s.Code) {
			out[i].Failed++
		}
		lats[i] = append(lats[i], s.Latency)
	}
	for i := range out {
		q := quantiles(lats[i])
		out[i].P50, out[i].P99 = q.P50, q.P99
	}
	return out
}

// growthRun starts n nodes, logs in users who each put three items in
// their cart, and reads the memory held once replication has settled.
func growthRun(ctx context.Context, cfg Config, st Strategy, n, users int) (Memory, error) {
	ctx, cancel := context.WithTimeout(ctx, 80*time.Second)
	defer cancel()
	c, err := startCluster(ctx, cfg, st, n)
	if err != nil {
		return Memory{}, err
	}
	defer c.stop()
	w := newWorkload(c.d.RouterURL, users, 0)
	w.start = time.Now()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	failed := 0
	var mu sync.Mutex
	for i := range users {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			u := newUser(w, i, 2)
			if !u.fill(ctx, 3) {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	w.tr.CloseIdleConnections()
	if err := ctx.Err(); err != nil {
		return Memory{}, err
	}
	if failed > 0 {
		return Memory{}, fmt.Errorf("%d of %d users could not fill their cart", failed, users)
	}
	// Replication may still be in flight: read until two readings agree.
	var m Memory
	err = proc.WaitFor(10*time.Second, func() error {
		m1, err := c.memory(ctx)
		if err != nil {
			return err
		}
		if !sleep(ctx, 300*time.Millisecond) {
			return proc.Stop(ctx.Err())
		}
		m2, err := c.memory(ctx)
		if err != nil {
			return err
		}
		m = m2
		if m1.MeanSessionBytes() != m2.MeanSessionBytes() || m1.Central != m2.Central {
			return errors.New("the stores' bytes are still changing")
		}
		return nil
	})
	return m, err
}
