// Package proctest holds what tests that run programs share.
package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Need returns the first of the programs that exists, looked up on PATH
// (a name) or as given (a path). When none does, the test fails if the
// environment variable CI is set, and is skipped otherwise: a missing
// server never passes silently under CI. hint says how to install it.
func Need(t testing.TB, hint string, programs ...string) string {
	t.Helper()
	for _, p := range programs {
		if filepath.IsAbs(p) {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
		} else if found, err := exec.LookPath(p); err == nil {
			return found
		}
	}
	msg := fmt.Sprintf("%s not found (%s)", programs[0], hint)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
