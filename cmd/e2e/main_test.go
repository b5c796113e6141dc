package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain builds the sessionkit binary when SESSIONKIT_BIN does not name
// one, so that `go test ./e2e` works on its own too, and clears the other
// SESSIONKIT_ variables but the hostile test's seed; with
// SESSIONKIT_NETNS_CLIENT set, it is TestSeparateHosts's client.
func TestMain(m *testing.M) {
	if phase := os.Getenv("SESSIONKIT_NETNS_CLIENT"); phase != "" {
		// This binary is TestSeparateHosts's client, in its namespace.
		if err := netnsClient(phase); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The processes the tests start inherit this environment: a
	// developer's SESSIONKIT_ settings would change every node and router.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SESSIONKIT_") && k != "SESSIONKIT_BIN" && k != "SESSIONKIT_SEED" {
			os.Unsetenv(k)
		}
	}
	if os.Getenv("SESSIONKIT_BIN") == "" {
		dir, err := os.MkdirTemp("", "sessionkit-e2e")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bin := filepath.Join(dir, "sessionkit")
		cmd := exec.Command("go", "build", "-o", bin, "../sessionkit")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building sessionkit:", err)
			os.Exit(1)
		}
		os.Setenv("SESSIONKIT_BIN", bin)
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}
