package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeProgramsCompile builds every Go program of the README as a
// user would: in a module of its own outside the workspace, with replace
// lines to this checkout. A Go block that is not a whole program fails
// too, so that every example a user copies compiles.
func TestReadmeProgramsCompile(t *testing.T) {
	root, mods := libraryModules(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	programs := goBlocks(string(readme))
	if len(programs) < 6 {
		t.Fatalf("the README has %d Go programs, want the quick start and one per store", len(programs))
	}
	for i, src := range programs {
		if !strings.HasPrefix(src, "package main\n") {
			t.Errorf("Go block %d of the README is not a whole program:\n%s", i+1, src)
			continue
		}
		dir := userModule(t, mods, src)
		goCmd(t, dir, userEnv, "vet", ".")
		goCmd(t, dir, userEnv, "build", "-o", filepath.Join(dir, "app"), ".")
	}
}

// goBlocks returns the contents of the ```go blocks of a Markdown text.
func goBlocks(md string) []string {
	var blocks []string
	var cur *strings.Builder
	for line := range strings.Lines(md) {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	return blocks
}
