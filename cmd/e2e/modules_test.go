package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The module lines as a user meets them: throwaway modules outside the
// workspace import one part of sessionkit each, with replace lines to this
// checkout, and must not pay for the others. Their tidy may fetch from
// the Go module proxy what the workspace's build did not (tidyEnv); their
// builds run from the module cache alone.

// libraryModules returns the path and folder of every module of the
// workspace that a user may require: all but the tools and the benchmarks.
func libraryModules(t *testing.T) (root string, mods map[string]string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := goCmd(t, root, nil, "list", "-m", "-f", "{{.Path}} {{.Dir}}")
	mods = map[string]string{}
	for line := range strings.Lines(out) {
		path, dir, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasSuffix(path, "/cmd") && !strings.HasSuffix(path, "/bench") {
			mods[path] = dir
		}
	}
	if len(mods) < 7 {
		t.Fatalf("workspace modules: %v, want the core, four stores, router and prom", mods)
	}
	return root, mods
}

// goCmd runs the go command in dir and returns its standard output.
func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return string(out)
}

// userModule writes a module that builds main, with replace lines to the
// checkout's library modules, tidies it outside the workspace, and returns
// its folder.
func userModule(t *testing.T, mods map[string]string, main string) string {
	t.Helper()
	dir := t.TempDir()
	var gomod strings.Builder
	gomod.WriteString("module example.com/user\n\ngo 1.26.0\n\n")
	for path, mdir := range mods {
		gomod.WriteString("replace " + path + " => " + mdir + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	// -e: tidy also looks for what the tests of the dependencies import
	// (testify for pgx's), which a build never needs and the cache may
	// lack.
	goCmd(t, dir, tidyEnv, "mod", "tidy", "-e")
	return dir
}

// userEnv is a user's build outside the workspace, from the module cache
// only.
var userEnv = []string{"GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off"}

// tidyEnv is the user's `go mod tidy`, which may fetch from the module
// proxy, as a user's does, what the workspace's build left out of the
// cache: a module of its own selects its own versions of what it shares
// with the workspace (older x/term and x/text than the workspace's, on a
// fresh machine). What follows the tidy runs from the cache only.
var tidyEnv = []string{"GOWORK=off", "GOFLAGS=-mod=mod", "GOSUMDB=off"}

func TestModuleLines(t *testing.T) {
	root, mods := libraryModules(t)

	t.Run("MemstoreUserHasAFewModules", func(t *testing.T) {
		dir := userModule(t, mods, `package main

import (
	"net/http"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

func main() {
	m, err := sessionkit.New(memstore.New(memstore.Config{}), sessionkit.Config{})
	if err != nil {
		panic(err)
	}
	http.ListenAndServe("127.0.0.1:8080", m.Handler(http.NotFoundHandler()))
}
`)
		// Listing the module graph needs each module's version
		// information, which a build from the cache does not: like the
		// tidy, it may ask the module proxy.
		all := strings.Fields(goCmd(t, dir, tidyEnv, "list", "-m", "all"))
		var list []string
		for _, f := range all {
			if !strings.HasPrefix(f, "v") && !strings.HasPrefix(f, "=>") && !strings.HasPrefix(f, "/") {
				list = append(list, f)
			}
		}
		t.Logf("go list -m all: %d modules: %v", len(list), list)
		if len(list) > 12 {
			t.Errorf("a memstore-only user has %d modules, want at most 12: %v", len(list), list)
		}
	})

	t.Run("RedisUserGoSumHasNoSQLGossipBrowserOrChart", func(t *testing.T) {
		dir := userModule(t, mods, `package main

import (
	"context"
	"net/http"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
)

func main() {
	s, err := redisstore.Open(context.Background(), "redis://127.0.0.1:6379")
	if err != nil {
		panic(err)
	}
	m, err := sessionkit.New(s, sessionkit.Config{})
	if err != nil {
		panic(err)
	}
	http.ListenAndServe("127.0.0.1:8080", m.Handler(http.NotFoundHandler()))
}
`)
		sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(sum), "github.com/redis/rueidis ") {
			t.Fatalf("go.sum names no rueidis: the check below would prove nothing\n%s", sum)
		}
		for _, banned := range []string{"jackc/pgx", "modernc.org/sqlite", "mattn/go-sqlite3", "lib/pq", "hashicorp/memberlist", "chromedp", "gonum.org", "go-latex", "go-pdf"} {
			if strings.Contains(string(sum), banned) {
				t.Errorf("a Redis user's go.sum names %s", banned)
			}
		}
	})

	t.Run("PostgresBinaryLinksNoSQLite", func(t *testing.T) {
		dir := userModule(t, mods, `package main

import (
	"context"
	"net/http"
	"os"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore"
)

func main() {
	s, err := pgstore.Open(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	m, err := sessionkit.New(s, sessionkit.Config{})
	if err != nil {
		panic(err)
	}
	http.ListenAndServe("127.0.0.1:8080", m.Handler(http.NotFoundHandler()))
}
`)
		bin := filepath.Join(dir, "app")
		goCmd(t, dir, userEnv, "build", "-o", bin, ".")
		syms := goCmd(t, dir, nil, "tool", "nm", bin)
		if !strings.Contains(syms, "jackc/pgx") {
			t.Fatal("the binary has no pgx symbol: the check below would prove nothing")
		}
		for line := range strings.Lines(syms) {
			if strings.Contains(strings.ToLower(line), "sqlite") {
				t.Errorf("the PostgreSQL binary links SQLite: %s", strings.TrimSpace(line))
				break
			}
		}
	})

	t.Run("CommandLinksNoTesting", func(t *testing.T) {
		for dep := range strings.Lines(goCmd(t, root, nil, "list", "-deps", "./cmd/sessionkit")) {
			if strings.TrimSpace(dep) == "testing" {
				t.Fatal("the sessionkit command links the testing package")
			}
		}
	})

	t.Run("OnlyTestPackagesImportTesting", func(t *testing.T) {
		dirs := map[string]string{"github.com/sessionkit/sessionkit/cmd": filepath.Join(root, "cmd")}
		for path, dir := range mods {
			dirs[path] = dir
		}
		for path, dir := range dirs {
			out := goCmd(t, dir, nil, "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
			for line := range strings.Lines(out) {
				f := strings.Fields(line)
				if len(f) == 0 || strings.HasSuffix(f[0], "test") {
					continue // storetest, redistest...: helpers for tests
				}
				for _, imp := range f[1:] {
					if imp == "testing" {
						t.Errorf("package %s (module %s) imports testing", f[0], path)
					}
				}
			}
		}
	})
}
