package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/redistest"
)

// children returns the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := b[bytes.LastIndexByte(b, ')')+1:]
		f := strings.Fields(string(rest))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(strings.Split(st, "/")[2])
			out = append(out, child)
		}
	}
	return out
}

// secretVars are the environment variables through which the demo hands
// its secrets to its children.
var secretVars = []string{"SESSIONKIT_CLUSTER_KEY", "SESSIONKIT_COOKIE_KEYS", "SESSIONKIT_REDIS", "SESSIONKIT_POSTGRES", "SESSIONKIT_ADMIN_TOKEN"}

// TestDemoSecretsNotOnCommandLines runs the demo with each strategy that
// has a secret and reads the command line of the demo and of every child
// (/proc/PID/cmdline, which every local user may read): none holds a
// secret. The secrets themselves are read from the children's
// environment (/proc/PID/environ, readable by their user only), so the
// test knows what to look for.
func TestDemoSecretsNotOnCommandLines(t *testing.T) {
	const redisPassword = "Redis5ecretPw"
	hex64 := regexp.MustCompile(`[0-9a-fA-F]{64}`)
	for _, strategy := range []string{"cluster", "cookie", "redis"} {
		t.Run(strategy, func(t *testing.T) {
			var env []string
			want := map[string]string{"cluster": "SESSIONKIT_CLUSTER_KEY", "cookie": "SESSIONKIT_COOKIE_KEYS", "redis": "SESSIONKIT_REDIS"}[strategy]
			if strategy == "redis" {
				// A Redis user with a password, beside the default user
				// the helper pings.
				srv := redistest.Start(t, "--user", "shop", "on", ">"+redisPassword, "~*", "&*", "+@all")
				env = append(env, "SESSIONKIT_REDIS=redis://shop:"+redisPassword+"@"+srv.Addr()+"/0")
			}
			ctx, cancel := context.WithCancel(context.Background())
			p, err := proc.Start(ctx, env, binary(t), "demo", "--strategy", strategy, "--listen", "127.0.0.1:0", "--log-level", "warn")
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); <-p.Done() })
			if _, err := p.Expect(regexp.MustCompile(`^admin: (\S+)$`), 60*time.Second); err != nil {
				t.Fatal(err)
			}
			kids := children(t, p.Pid())
			if len(kids) < 4 { // three nodes and the router
				t.Fatalf("the demo has %d children, want at least 4", len(kids))
			}
			secrets := map[string]bool{}
			if strategy == "redis" {
				secrets[redisPassword] = true
			}
			found := false
			for _, pid := range kids {
				environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
				if err != nil {
					t.Fatal(err)
				}
				for kv := range bytes.SplitSeq(environ, []byte{0}) {
					k, v, _ := strings.Cut(string(kv), "=")
					for _, name := range secretVars {
						if k == name && v != "" {
							secrets[v] = true
							found = found || k == want
						}
					}
				}
			}
			if !found {
				t.Errorf("no child has %s in its environment: where did the secret go?", want)
			}
			for _, pid := range append(kids, p.Pid()) {
				cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				if err != nil {
					t.Fatal(err)
				}
				line := string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
				for s := range secrets {
					if strings.Contains(line, s) {
						t.Errorf("pid %d's command line holds a secret: %s", pid, line)
					}
				}
				if hex64.MatchString(line) {
					t.Errorf("pid %d's command line holds a key-like hex string: %s", pid, line)
				}
			}
		})
	}
}
