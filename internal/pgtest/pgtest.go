// Package pgtest starts a throwaway PostgreSQL server for tests: initdb into
// a temporary folder, then the postgres server on a free loopback port with
// its unix socket in that folder. It never touches a server already running
// on the machine.
//
// PostgreSQL refuses to run as root, so when the tests run as root (as CI
// does) the folder is handed to the unprivileged user "nobody" and the
// server runs as that user.
//
// The binaries initdb, postgres and psql are looked up in
// $SESSIONKIT_PG_BIN, then the newest /usr/lib/postgresql/*/bin (Debian's
// package "postgresql"), then PATH. When they are missing, Start fails the test if the environment
// variable CI is set and skips it otherwise.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// Options adjust a server.
type Options struct {
	// Durable keeps PostgreSQL's default durability (fsync on), as
	// benchmarks need. The default turns fsync off: faster, and a killed
	// server still loses no commit, which reached the kernel.
	Durable bool
}

// Server is a running PostgreSQL server.
type Server struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Dir holds the data folder, the socket and the log.
	Dir string

	bin  string
	opts Options
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// ErrNoBinaries is returned by Launch when PostgreSQL is not installed.
var ErrNoBinaries = errors.New("PostgreSQL's initdb, postgres and psql not found in $SESSIONKIT_PG_BIN, /usr/lib/postgresql/*/bin or PATH")

// Start initialises a cluster and starts a server for tb, stopping it and
// removing its folder when tb ends. When PostgreSQL is missing it fails tb
// if the environment variable CI is set, and skips it otherwise.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Launch(opts)
	if errors.Is(err, ErrNoBinaries) && os.Getenv("CI") == "" {
		tb.Skipf("pgtest: %v (install Debian's postgresql package)", err)
	}
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Launch initialises a cluster and starts a server that outlives any one
// test, for benchmarks that share it; Close stops it and removes its
// folder.
func Launch(opts Options) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, opts: opts}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return nil, fmt.Errorf("running as root and no user nobody to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parents are private to root, and the server's
	// user must reach this folder.
	s.Dir, err = os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	if err := s.launch(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) launch() error {
	if s.cred != nil {
		if err := os.Chown(s.Dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(s.bin, "initdb"), "-D", s.dataDir(), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		port, err := proc.FreePort()
		if err != nil {
			return err
		}
		s.Port = port
		err = s.start()
		if err == nil || attempt == 2 {
			return err
		}
	}
}

// Close stops the server and removes its folder.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

// URL returns a connection URL for database db on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// Restart starts the server again, on the same port and data folder, after
// Kill or Stop. It fails tb if the server is not ready within 30 seconds.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	// The kernel may release the old server's shared memory a moment
	// after its processes are gone; postgres then refuses to start, and
	// is started again until the deadline.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "pre-existing shared memory block") || time.Now().After(deadline) {
			tb.Fatalf("pgtest: restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start starts postgres and waits until it accepts connections.
func (s *Server) start() error {
	args := []string{"-D", s.dataDir(), "-p", strconv.Itoa(s.Port), "-k", s.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that Kill takes the backends down with
	// the postmaster, as a crash of the machine would.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.psql(time.Second, "postgres", "SELECT 1")
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("postgres exited before it was ready:\n%s", s.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("postgres not ready within 30 s: %v\n%s", err, s.Log())
		}
	}
}

// Log returns the server's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	return string(b)
}

// Kill kills the server and its backends with SIGKILL, as a crash would,
// and waits until they are gone.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, 0) }

// Stop shuts the server down (fast mode), killing it if it takes more than
// 10 seconds.
func (s *Server) Stop() { s.signal(syscall.SIGINT, 10*time.Second) }

func (s *Server) signal(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	pgid := -cmd.Process.Pid
	if sig == syscall.SIGKILL {
		syscall.Kill(pgid, sig)
	} else {
		cmd.Process.Signal(sig)
	}
	select {
	case <-done:
	case <-time.After(grace):
		syscall.Kill(pgid, syscall.SIGKILL)
		<-done
	}
	// The backends leave with the postmaster; wait until none holds the
	// group, so that a restart finds the shared memory free.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pgid, 0) == nil && time.Now().Before(deadline) {
		syscall.Kill(pgid, syscall.SIGKILL)
		time.Sleep(10 * time.Millisecond)
	}
}

// CreateDB creates a database and returns its URL.
func (s *Server) CreateDB(tb testing.TB, name string) string {
	tb.Helper()
	s.Exec(tb, "postgres", "CREATE DATABASE "+quote(name)+" STRATEGY FILE_COPY")
	return s.URL(name)
}

// Exec runs SQL statements in database db, failing tb if they fail.
func (s *Server) Exec(tb testing.TB, db, sql string) {
	tb.Helper()
	if out, err := s.psql(30*time.Second, db, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v\n%s", sql, err, out)
	}
}

// psql runs sql in database db with the server's psql, over TCP as the
// clients under test connect.
func (s *Server) psql(timeout time.Duration, db, sql string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", db, "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=1", "PGSSLMODE=disable", "PGOPTIONS=")
	return cmd.CombinedOutput()
}

// quote quotes an SQL identifier.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// findBin returns the folder holding initdb and postgres.
func findBin() (string, error) {
	var dirs []string
	if d := os.Getenv("SESSIONKIT_PG_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	dirs = append(dirs, found...)
	if p, err := exec.LookPath("postgres"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "psql")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 && !strings.HasSuffix(p, "/")
}
