package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// TestDemoWithUsersAdminToken: a user who runs nodes of their own keeps
// SESSIONKIT_ADMIN_TOKEN in their environment. The demo must not hand it
// to its children, which would then not print their admin tokens and
// leave the demo unable to ask the gossiping nodes whether they see each
// other: it never became ready. It mints its children's tokens itself.
func TestDemoWithUsersAdminToken(t *testing.T) {
	const users = "users-own-admin-token-0123456789"
	for _, strategy := range []string{"cluster", "cookie"} {
		t.Run(strategy, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			p, err := proc.Start(ctx, []string{"SESSIONKIT_ADMIN_TOKEN=" + users}, binary(t),
				"demo", "--strategy", strategy, "--listen", "127.0.0.1:0", "--log-level", "warn")
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); <-p.Done() })
			if _, err := p.Expect(regexp.MustCompile(`^admin: (\S+)$`), 60*time.Second); err != nil {
				t.Fatalf("the demo did not become ready with $SESSIONKIT_ADMIN_TOKEN set: %v", err)
			}
			kids := children(t, p.Pid())
			if len(kids) < 4 { // three nodes and the router
				t.Fatalf("the demo has %d children, want at least 4", len(kids))
			}
			tokens := map[string]bool{}
			for _, pid := range kids {
				environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
				if err != nil {
					t.Fatal(err)
				}
				token := ""
				for kv := range bytes.SplitSeq(environ, []byte{0}) {
					if v, ok := strings.CutPrefix(string(kv), "SESSIONKIT_ADMIN_TOKEN="); ok {
						token = v // the last one wins, as in the child's getenv
					}
				}
				switch {
				case token == users:
					t.Errorf("pid %d inherited the user's admin token", pid)
				case len(token) < 32:
					t.Errorf("pid %d has admin token %q, want one the demo made", pid, token)
				case tokens[token]:
					t.Errorf("pid %d shares its admin token with another child", pid)
				}
				tokens[token] = true
			}
		})
	}
}
