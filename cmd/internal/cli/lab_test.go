package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabSimulate runs `sessionkit lab --simulate` at a small size: it
// prints the table and writes it, with its JSON, to the output folder.
func TestLabSimulate(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"lab", "--simulate", "--nodes", "10", "--sessions", "20000", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"10 nodes, 20000 sessions", "| cluster k=1 |", "| all-to-all |"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, f := range []string{"simulation.md", "simulation.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestLabFlags: a bad strategy or growth list is refused before anything
// starts.
func TestLabFlags(t *testing.T) {
	for _, args := range [][]string{
		{"lab", "--strategies", "memcached", "--out", t.TempDir()},
		{"lab", "--growth", "two", "--out", t.TempDir()},
		{"lab", "--nodes", "1", "--out", t.TempDir()},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 1 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}
