// Package redistest starts real Redis processes for tests: a standalone
// server, a Sentinel group (one primary, one replica, three sentinels) and a
// three-master Redis Cluster, each on free loopback ports, with no
// persistence, in a temporary directory. Every start waits for a readiness
// condition under a deadline, and every process is killed when the test
// ends.
//
// The binaries are looked up on PATH and then in /usr/bin and /usr/sbin.
// When one is missing the test fails if the environment variable CI is set,
// and is skipped otherwise.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/proctest"
)

// ReadyTimeout bounds every wait for a process or a group to be ready.
const ReadyTimeout = 20 * time.Second

// Binary returns the path of the named program (redis-server,
// redis-sentinel, redis-cli). When it is missing it fails the test under CI
// and skips it otherwise.
func Binary(t testing.TB, name string) string {
	t.Helper()
	return proctest.Need(t, "Debian: apt-get install redis-server redis-sentinel", name, "/usr/bin/"+name, "/usr/sbin/"+name, "/usr/local/bin/"+name)
}

// SentinelCommand returns the command line that runs a sentinel with the
// configuration file conf: redis-sentinel conf where it is installed, or
// else redis-server conf --sentinel, the same program (Debian packages
// redis-sentinel apart from redis-server). Without either it fails the
// test under CI and skips it otherwise, as Binary does.
func SentinelCommand(t testing.TB, conf string) []string {
	t.Helper()
	if p, err := exec.LookPath("redis-sentinel"); err == nil {
		return []string{p, conf}
	}
	for _, p := range []string{"/usr/bin/redis-sentinel", "/usr/sbin/redis-sentinel", "/usr/local/bin/redis-sentinel"} {
		if _, err := os.Stat(p); err == nil {
			return []string{p, conf}
		}
	}
	return []string{Binary(t, "redis-server"), conf, "--sentinel"}
}

// Server is one redis-server or redis-sentinel process.
type Server struct {
	// Port is the port the process listens on, on 127.0.0.1.
	Port int
	// Dir is the process's working directory.
	Dir string

	t    testing.TB
	bin  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Start starts a standalone redis-server on a free port, without
// persistence, and waits until it answers PING. Extra arguments are passed
// to redis-server (e.g. "--maxmemory", "10mb").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := Binary(t, "redis-server")
	var lastErr error
	for range 5 {
		s := &Server{t: t, bin: bin, Dir: t.TempDir(), Port: FreePort(t)}
		s.args = append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.Dir}, extra...)
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redistest: redis-server did not start: %v", lastErr)
	return nil
}

// start runs the process and waits until it answers PING.
func (s *Server) start() error {
	s.mu.Lock()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	logf, err := os.OpenFile(filepath.Join(s.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	err = WaitFor(ReadyTimeout, func() error {
		select {
		case <-done:
			return proc.Stop(fmt.Errorf("exited: %s", s.logTail()))
		default:
		}
		r, err := Do(s.Addr(), "PING")
		if err != nil {
			return err
		}
		if r != "PONG" {
			return fmt.Errorf("PING answered %v", r)
		}
		return nil
	})
	if err != nil {
		s.Kill()
	}
	return err
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Kill kills the process with SIGKILL and waits for it to exit. It may be
// called more than once.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart starts the process again on the same port, with the same
// arguments, and waits until it answers PING. The data is gone (no
// persistence).
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	if err := WaitFor(ReadyTimeout, func() error { return s.start() }); err != nil {
		s.t.Fatalf("redistest: restart on port %d: %v", s.Port, err)
	}
}

// Sentinel is a Sentinel group: a primary, one replica and three sentinels
// monitoring them under the name Master.
type Sentinel struct {
	Master    string
	Primary   *Server
	Replica   *Server
	Sentinels []*Server
}

// StartSentinel starts a Sentinel group and waits until every sentinel
// sees the primary, its replica and the two other sentinels, and the
// replica is in sync. Sentinels declare the primary down after 1 s and give
// a failover 5 s, so a failover takes a few seconds.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	g := &Sentinel{Master: "sessionkit"}
	g.Primary = Start(t)
	g.Replica = Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(g.Primary.Port))
	for range 3 {
		var s *Server
		var err error
		for range 5 {
			s = &Server{t: t, Dir: t.TempDir(), Port: FreePort(t)}
			conf := filepath.Join(s.Dir, "sentinel.conf")
			body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
				"sentinel monitor %s 127.0.0.1 %d 2\n"+
				"sentinel down-after-milliseconds %[3]s 1000\n"+
				"sentinel failover-timeout %[3]s 5000\n"+
				"sentinel parallel-syncs %[3]s 1\n", s.Port, s.Dir, g.Master, g.Primary.Port)
			if err = os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := SentinelCommand(t, conf)
			s.bin, s.args = cmd[0], cmd[1:]
			if err = s.start(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("redistest: redis-sentinel did not start: %v", err)
		}
		t.Cleanup(s.Kill)
		g.Sentinels = append(g.Sentinels, s)
	}
	err := WaitFor(ReadyTimeout, func() error {
		info, err := Do(g.Replica.Addr(), "INFO", "replication")
		if err != nil {
			return err
		}
		if s, _ := info.(string); !strings.Contains(s, "master_link_status:up") {
			return errors.New("replica not in sync")
		}
		for _, s := range g.Sentinels {
			r, err := Do(s.Addr(), "SENTINEL", "MASTER", g.Master)
			if err != nil {
				return err
			}
			m := pairs(r)
			if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return fmt.Errorf("sentinel %d sees %s other sentinels and %s replicas", s.Port, m["num-other-sentinels"], m["num-slaves"])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: sentinel group not ready: %v", err)
	}
	return g
}

// URL returns the group's URL: the sentinels' addresses and the master
// set's name, as rueidis.ParseURL reads it.
func (g *Sentinel) URL() string {
	u := g.Sentinels[0].URL() + "?master_set=" + g.Master
	for _, s := range g.Sentinels[1:] {
		u += "&addr=" + s.Addr()
	}
	return u
}

// PrimaryAddr asks a sentinel for the current primary's address.
func (g *Sentinel) PrimaryAddr() (string, error) {
	var lastErr error
	for _, s := range g.Sentinels {
		r, err := Do(s.Addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", g.Master)
		if err != nil {
			lastErr = err
			continue
		}
		a, ok := r.([]any)
		if !ok || len(a) != 2 {
			lastErr = fmt.Errorf("unexpected answer %v", r)
			continue
		}
		return fmt.Sprintf("%v:%v", a[0], a[1]), nil
	}
	return "", lastErr
}

// Cluster is a Redis Cluster of three masters without replicas.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts three cluster-enabled servers, joins them with
// redis-cli --cluster create and waits until every node reports
// cluster_state:ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t, "redis-server")
	cli := Binary(t, "redis-cli")
	c := &Cluster{}
	for range 3 {
		var s *Server
		var err error
		for range 5 {
			s = &Server{t: t, bin: bin, Dir: t.TempDir(), Port: freeClusterPort(t)}
			s.args = []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.Dir,
				"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.Dir, "nodes.conf"), "--cluster-node-timeout", "2000"}
			if err = s.start(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("redistest: cluster node did not start: %v", err)
		}
		t.Cleanup(s.Kill)
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.Command(cli, args...)
	if out, err := runWithTimeout(cmd, ReadyTimeout); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	err := WaitFor(ReadyTimeout, func() error {
		for _, n := range c.Nodes {
			r, err := Do(n.Addr(), "CLUSTER", "INFO")
			if err != nil {
				return err
			}
			if s, _ := r.(string); !strings.Contains(s, "cluster_state:ok") {
				return fmt.Errorf("node %d: cluster not ok", n.Port)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: cluster not ready: %v", err)
	}
	return c
}

// URL returns the cluster's URL: every node's address.
func (c *Cluster) URL() string {
	u := c.Nodes[0].URL()
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr()
	}
	return u
}

func runWithTimeout(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return []byte(out.String()), err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return []byte(out.String()), errors.New("timed out")
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatalf("redistest: no free port: %v", err)
	}
	return p
}

// freeClusterPort returns a port p such that p and its cluster bus port
// p+10000 are both free, below the ephemeral range.
func freeClusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(10000)
		if portFree(p) && portFree(p+10000) {
			return p
		}
	}
	t.Fatal("redistest: no free cluster port pair")
	return 0
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// WaitFor calls cond until it returns nil or the timeout passes; see
// proc.WaitFor.
func WaitFor(timeout time.Duration, cond func() error) error { return proc.WaitFor(timeout, cond) }

// Do sends one command to the server at addr over a new connection and
// returns its reply: a string for simple and bulk strings, an int64, nil,
// or a []any; a Redis error reply is returned as an error. It is meant for
// readiness checks and test assertions, not for speed.
func Do(addr string, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(conn))
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, errors.New(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// pairs turns a flat [k1 v1 k2 v2 ...] reply into a map.
func pairs(r any) map[string]string {
	m := map[string]string{}
	a, _ := r.([]any)
	for i := 0; i+1 < len(a); i += 2 {
		m[fmt.Sprint(a[i])] = fmt.Sprint(a[i+1])
	}
	return m
}
