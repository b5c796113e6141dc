// Package proctest holds what tests that run programs share.
package proctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
	Unavailable(t, fmt.Sprintf("%s not found (%s)", programs[0], hint))
	return ""
}

// NeedIPv6 skips the test, or fails it under CI, when the machine has no
// IPv6 loopback address.
func NeedIPv6(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		Unavailable(t, fmt.Sprintf("no IPv6 loopback here: %v", err))
		return
	}
	ln.Close()
}

// Unavailable fails the test under CI, where everything a test needs is
// installed, and skips it elsewhere, with msg.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Buffer is a bytes.Buffer safe for concurrent use: the destination of a
// log that a test reads while a server writes it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
