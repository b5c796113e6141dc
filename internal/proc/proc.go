// Package proc starts and stops the child processes of the demo, the lab
// and the end-to-end tests: sessionkit nodes and routers, and the servers
// they use. A child announces itself with lines on its standard output
// ("node n1: http://127.0.0.1:PORT pid PID"); Start waits for them.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running child process.
type Process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // the exit status, once done is closed
	mu     sync.Mutex
	output strings.Builder // stdout and stderr, for failure messages
	lines  chan string     // stdout lines not yet claimed by Expect
}

// Start starts name with args, its output captured. It is killed when ctx
// ends. Extra environment variables come from env ("K=V").
func Start(ctx context.Context, env []string, name string, args ...string) (*Process, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), lines: make(chan string, 1024)}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.output.Len() < 1<<20 {
			p.output.Write(b)
		}
		return len(b), nil
	})
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default: // nobody reads: drop
			}
		}
		p.err = cmd.Wait()
		close(p.lines)
		close(p.done)
	}()
	return p, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Expect waits until the process prints a line matching re and returns
// the line's submatches. It fails when the process exits first or the
// timeout passes.
func (p *Process) Expect(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return nil, fmt.Errorf("%s exited (%v) before printing %q; output:\n%s", p.Name(), p.err, re, p.Output())
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("%s printed no line matching %q within %v; output:\n%s", p.Name(), re, timeout, p.Output())
		}
	}
}

// Name returns the process's command line, shortened.
func (p *Process) Name() string {
	s := strings.Join(p.cmd.Args, " ")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// Pid returns the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns what the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL to the process and its group and waits for it.
func (p *Process) Kill() {
	syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns the exit error (nil for status 0).
func (p *Process) Stop(timeout time.Duration) error {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM", p.Name(), timeout)
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns the exit error once Done is closed.
func (p *Process) Err() error { return p.err }

// AddrInUse reports whether err says a port was taken between FreePort
// and the bind (a child's error carries only the text).
func AddrInUse(err error) bool {
	return err != nil && (errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use"))
}

// given holds the ports FreePort has returned, and the files whose locks
// reserve them.
var given struct {
	sync.Mutex
	ports map[int]bool
	locks []*os.File
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a child process to listen on, and that it has not returned before in
// this process. A port picked by listening on port 0 and closing is one
// the kernel may give again at once: to an outgoing connection's local
// end, or to another process picking the same way, and the child's listen
// then fails with "address already in use". So the port is taken below
// the kernel's range of ephemeral ports, which outgoing connections and
// port-0 listeners use, and reserved against other processes of this
// machine that pick with FreePort, by a lock on a file named after it,
// held until this process exits.
func FreePort() (int, error) {
	given.Lock()
	defer given.Unlock()
	if given.ports == nil {
		given.ports = map[int]bool{}
	}
	lo, hi := belowEphemeral()
	for range 1000 {
		port := 0
		if lo < hi {
			port = lo + rand.IntN(hi-lo)
			if given.ports[port] || !reserve(port) {
				continue
			}
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			if port != 0 {
				continue // in use: the lock stays, the port is not given
			}
			return 0, err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !given.ports[port] {
			given.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("proc: no port free that was not given before")
}

// belowEphemeral returns the ports FreePort picks from: 10000 to 19999
// (redistest's Redis Cluster takes 20000 up, with bus ports 10000 above),
// and below the first ephemeral port; an empty range when that leaves
// fewer than 1000 (FreePort then takes what port 0 gives).
func belowEphemeral() (lo, hi int) {
	lo, hi = 10000, 20000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				hi = min(hi, n)
			}
		}
	}
	if hi-lo < 1000 {
		return 0, 0
	}
	return lo, hi
}

// reserve takes the lock of port's file for the rest of this process's
// life, and reports whether it got it: false when another live process
// holds it. Without a lock directory it reserves nothing and says true.
func reserve(port int) bool {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("sessionkit-ports-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return true
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	given.locks = append(given.locks, f) // kept open: the lock lasts
	return true
}

// WaitFor calls cond until it returns nil or the timeout passes, and
// returns its last error then. A cond error made with Stop ends the wait
// at once.
func WaitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.error
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", timeout, err)
		}
		time.Sleep(delay)
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// Stop wraps an error that makes WaitFor give up at once, such as a
// server process that exited while it was waited for.
func Stop(err error) error { return stopError{err} }

type stopError struct{ error }

// ErrNoBinary is returned by Binary when SESSIONKIT_BIN is not set.
var ErrNoBinary = errors.New("SESSIONKIT_BIN is not set: run the process tests through make test")

// Binary returns the sessionkit binary the process tests run.
func Binary() (string, error) {
	bin := os.Getenv("SESSIONKIT_BIN")
	if bin == "" {
		return "", ErrNoBinary
	}
	if _, err := os.Stat(bin); err != nil {
		return "", err
	}
	return bin, nil
}

var _ io.Writer = writerFunc(nil)
