package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// TestVersionOfBinary: the built binary tells its version. Built with
// -buildvcs=false (as make test does) it has no revision and says
// "unknown"; built from a checkout it shows the commit.
func TestVersionOfBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary(t), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("sessionkit version: %v\n%s", err, out)
	}
	shape := regexp.MustCompile(`^sessionkit (\(devel\)|v\S+)
module:    github\.com/sessionkit/sessionkit/cmd
revision:  ([0-9a-f]{40}|unknown)
modified:  (true|false|unknown)
committed: \S+
go:        go1\.\S+ \w+/\w+
$`)
	if !shape.Match(out) {
		t.Fatalf("sessionkit version:\n%s", out)
	}
	t.Logf("\n%s", out)
}

// TestRouterJSONLog: the router started with --log-format json logs
// JSON objects, one a line, on stderr; its access log too.
func TestRouterJSONLog(t *testing.T) {
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	members := fmt.Sprintf("n1=http://127.0.0.1:%d", port) // nobody listens: its health check logs
	p := start(t, "router", "--listen", "127.0.0.1:0", "--members", members, "--health-interval", "100ms", "--log-format", "json", "--log-level", "debug")
	m, err := p.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(m[1] + "/") // access-logged
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The output holds the banner lines (stdout) and the log (stderr):
	// wait until a JSON line has arrived, then check every non-banner
	// line.
	err = proc.WaitFor(20*time.Second, func() error {
		if !strings.Contains(p.Output(), `{"time":`) {
			return fmt.Errorf("no JSON log line yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v; output:\n%s", err, p.Output())
	}
	for line := range strings.Lines(p.Output()) {
		if strings.HasPrefix(line, "router: ") || strings.HasPrefix(line, "admin: ") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("not a JSON log record (%v): %s", err, line)
		}
	}
}

// TestDemoKeepsSettingsFromChildren: the demo reads its own flags from
// the environment, and hands none of the SESSIONKIT_ variables on to its
// children, whose flags it chooses itself: the demo's admin page address
// would have every child listen on it, and a value a child's flag refuses
// would stop it.
func TestDemoKeepsSettingsFromChildren(t *testing.T) {
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	env := []string{"SESSIONKIT_ADMIN=" + admin, "SESSIONKIT_MAX_SESSIONS=not-a-number", "SESSIONKIT_LOG_LEVEL=warn", "SESSIONKIT_NODES=2"}
	p, err := proc.Start(ctx, env, binary(t), "demo", "--strategy", "cookie", "--listen", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-p.Done() })
	m, err := p.Expect(regexp.MustCompile(`^admin: http://(\S+)/\?token=\S+$`), 60*time.Second)
	if err != nil {
		t.Fatalf("the demo did not become ready: %v", err)
	}
	if m[1] != admin {
		t.Errorf("the demo's admin page is on %s, want %s from $SESSIONKIT_ADMIN", m[1], admin)
	}
	kids := children(t, p.Pid())
	if len(kids) != 3 { // two nodes ($SESSIONKIT_NODES) and the router
		t.Errorf("the demo has %d children, want 3", len(kids))
	}
	for _, pid := range kids {
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for kv := range bytes.SplitSeq(environ, []byte{0}) {
			if k, v, ok := strings.Cut(string(kv), "="); ok {
				got[k] = v // the last one wins, as in the child's getenv
			}
		}
		for _, k := range []string{"SESSIONKIT_ADMIN", "SESSIONKIT_MAX_SESSIONS", "SESSIONKIT_LOG_LEVEL", "SESSIONKIT_NODES"} {
			if got[k] != "" {
				t.Errorf("pid %d has %s=%s from the demo's environment", pid, k, got[k])
			}
		}
	}
}
