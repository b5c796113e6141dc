package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain builds the sessionkit binary when SESSIONKIT_BIN does not name
// one, so that `go test ./e2e` works on its own too; with
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
