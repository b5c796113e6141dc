package lab

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress shows how a run goes: on a terminal, one bar per phase redrawn
// in place; otherwise plain lines, a few per phase.
type progress struct {
	w     io.Writer
	term  bool
	mu    sync.Mutex
	name  string
	total time.Duration
	last  time.Time // of the last plain line
	drawn bool      // a bar is on the current line
}

func newProgress(w io.Writer, term bool) *progress { return &progress{w: w, term: term} }

// start begins a phase whose main run lasts total.
func (p *progress) start(name string, total time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.total, p.last = name, total, time.Now()
	p.clear()
	fmt.Fprintf(p.w, "%s: starting the cluster\n", name)
}

// tick reports the main run's elapsed time and requests so far.
func (p *progress) tick(elapsed time.Duration, requests int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.term {
		const width = 30
		done := min(width, int(float64(width)*elapsed.Seconds()/p.total.Seconds()))
		bar := strings.Repeat("=", done) + strings.Repeat(" ", width-done)
		fmt.Fprintf(p.w, "\r%-11s [%s] %3.0fs/%.0fs %7d requests", p.name, bar, elapsed.Seconds(), p.total.Seconds(), requests)
		p.drawn = true
		return
	}
	if time.Since(p.last) >= 10*time.Second {
		p.last = time.Now()
		fmt.Fprintf(p.w, "%s: %.0fs of %.0fs, %d requests\n", p.name, elapsed.Seconds(), p.total.Seconds(), requests)
	}
}

// note prints a line: an event, a sub-phase.
func (p *progress) note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, msg)
}

// end closes the phase's main run with a summary line.
func (p *progress) end(msg string) { p.note(msg) }

// clear ends a bar's line before a plain line is printed.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
