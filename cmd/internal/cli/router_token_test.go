package cli

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// The router prints its admin token only when it made it: one it was
// given (from SESSIONKIT_ADMIN_TOKEN, a Kubernetes Secret) would land in
// the logs.
func TestRouterDoesNotEchoGivenAdminToken(t *testing.T) {
	const secret = "s3cret-admin-token-from-the-environment"
	t.Setenv("SESSIONKIT_ADMIN_TOKEN", secret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"router", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--members", "n1=http://127.0.0.1:1", "--access-log=false"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	deadline := time.AfterFunc(10*time.Second, func() { pw.Close() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, secret) {
			t.Errorf("the router printed the admin token it was given: %q", line)
		}
		if strings.HasPrefix(line, "admin:") {
			break
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	<-done
}
