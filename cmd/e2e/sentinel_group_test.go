package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/redistest"
)

// sentinelGroup is a Redis Sentinel group on the namespace harness: the
// hosts r1 (the first primary) and r2 (its replica), each a redis-server
// on port 6379, and s1, s2, s3, each a sentinel on port 26379 monitoring
// them under the name sentinelMaster with quorum 2. The clients' host is
// "client". Each server binds every address and announces its own (a
// replica and a sentinel otherwise announce the address a peer sees,
// which is only right when nothing translates it).
type sentinelGroup struct {
	t        *testing.T
	n        *netns
	redisCLI string // redis-cli
	nft      string
	addr     map[string]string // host -> address
}

const sentinelMaster = "sessionkit"

var sentinelHosts = []string{"r1", "r2", "s1", "s2", "s3", "client"}

// startSentinelGroup makes the hosts, starts the servers and the sentinels,
// and waits until the replica is in sync and every sentinel sees the
// replica and the two other sentinels.
func startSentinelGroup(t *testing.T, n *netns) *sentinelGroup {
	t.Helper()
	g := &sentinelGroup{t: t, n: n, addr: map[string]string{}}
	server := redistest.Binary(t, "redis-server")
	g.redisCLI = redistest.Binary(t, "redis-cli")
	g.nft = install(t, "nft", "nftables")
	for i, h := range sentinelHosts {
		g.addr[h] = n.addHost(h, i+1)
	}
	for _, h := range []string{"r1", "r2"} {
		args := []string{"--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir(), "--replica-announce-ip", g.addr[h]}
		if h == "r2" {
			args = append(args, "--replicaof", g.addr["r1"], "6379")
		}
		n.start(h, nil, server, args...)
	}
	for _, h := range []string{"s1", "s2", "s3"} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("port 26379\nbind 0.0.0.0\nprotected-mode no\ndir %s\n"+
			"sentinel announce-ip %s\n"+
			"sentinel monitor %s %s 6379 2\n"+
			"sentinel down-after-milliseconds %[3]s 1000\n"+
			"sentinel failover-timeout %[3]s 5000\n"+
			"sentinel parallel-syncs %[3]s 1\n", dir, g.addr[h], sentinelMaster, g.addr["r1"])
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := redistest.SentinelCommand(t, conf)
		n.start(h, nil, cmd[0], cmd[1:]...)
	}
	err := proc.WaitFor(30*time.Second, func() error {
		info, err := g.cli("r2", "INFO", "replication")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("r2 is not in sync with r1")
		}
		for _, s := range []string{"s1", "s2", "s3"} {
			out, err := g.cli(s, "SENTINEL", "MASTER", sentinelMaster)
			if err != nil {
				return err
			}
			m := map[string]string{}
			f := strings.Fields(out)
			for i := 0; i+1 < len(f); i += 2 {
				m[f[i]] = f[i+1]
			}
			if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return fmt.Errorf("%s sees %s other sentinels and %s replicas", s, m["num-other-sentinels"], m["num-slaves"])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the sentinel group is not ready: %v", err)
	}
	return g
}

// cli runs redis-cli in a host's namespace against its own server (the
// sentinel on s1-s3), which a partition of that host does not cut, and
// returns the reply.
func (g *sentinelGroup) cli(host string, args ...string) (string, error) {
	port := "6379"
	if strings.HasPrefix(host, "s") {
		port = "26379"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.n.ip, append([]string{"netns", "exec", g.n.prefix + host, g.redisCLI, "-h", "127.0.0.1", "-p", port}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("redis-cli on %s %s: %v: %s", host, strings.Join(args, " "), err, out)
	}
	if s := string(out); strings.HasPrefix(s, "ERR") || strings.HasPrefix(s, "Could not connect") {
		return "", fmt.Errorf("redis-cli on %s %s: %s", host, strings.Join(args, " "), out)
	}
	return string(out), nil
}

// primary returns the host every sentinel names as the primary; an error
// while they disagree.
func (g *sentinelGroup) primary() (string, error) {
	var host string
	for _, s := range []string{"s1", "s2", "s3"} {
		out, err := g.cli(s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinelMaster)
		if err != nil {
			return "", err
		}
		h := ""
		if f := strings.Fields(out); len(f) == 2 {
			for name, a := range g.addr {
				if a == f[0] {
					h = name
				}
			}
		}
		if h == "" {
			return "", fmt.Errorf("%s names the primary %q", s, out)
		}
		if host != "" && h != host {
			return "", fmt.Errorf("the sentinels disagree on the primary: %s and %s", host, h)
		}
		host = h
	}
	return host, nil
}

// other returns the server that is not host.
func (g *sentinelGroup) other(host string) string {
	if host == "r1" {
		return "r2"
	}
	return "r1"
}

// url returns the URL the clients give redisstore: the three sentinels
// and the master set.
func (g *sentinelGroup) url() string {
	return fmt.Sprintf("redis://%s:26379?master_set=%s&addr=%s:26379&addr=%s:26379", g.addr["s1"], sentinelMaster, g.addr["s2"], g.addr["s3"])
}

// drop adds, in a host's namespace, an nftables table named
// sessionkit_NAME that drops the packets coming in that match in and those
// going out that match out.
func (g *sentinelGroup) drop(host, name, in, out string) {
	g.t.Helper()
	rules := fmt.Sprintf("table inet sessionkit_%s {\n"+
		"\tchain in { type filter hook input priority 0; policy accept; %s drop; }\n"+
		"\tchain out { type filter hook output priority 0; policy accept; %s drop; }\n}\n", name, in, out)
	g.nftApply(host, rules)
}

// heal removes every nftables rule in a host's namespace.
func (g *sentinelGroup) heal(host string) {
	g.t.Helper()
	g.nftApply(host, "flush ruleset\n")
}

func (g *sentinelGroup) nftApply(host, rules string) {
	g.t.Helper()
	f := filepath.Join(g.t.TempDir(), "rules.nft")
	if err := os.WriteFile(f, []byte(rules), 0o600); err != nil {
		g.t.Fatal(err)
	}
	if out, err := g.n.run("netns", "exec", g.n.prefix+host, g.nft, "-f", f); err != nil {
		g.t.Fatalf("nft on %s: %v: %s\n%s", host, err, out, rules)
	}
}
