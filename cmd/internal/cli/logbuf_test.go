package cli

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogBufferKeepsOrder(t *testing.T) {
	var out lockedBuffer
	b := newLogBuffer(&out)
	fmt.Fprintln(b.Buffered(), "access 1")
	fmt.Fprintln(b.Buffered(), "access 2")
	fmt.Fprintln(b.Direct(), "warning")
	fmt.Fprintln(b.Buffered(), "access 3")
	b.Close()
	if got, want := out.String(), "access 1\naccess 2\nwarning\naccess 3\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	fmt.Fprintln(b.Buffered(), "after close")
	if got := out.String(); !strings.HasSuffix(got, "access 3\nafter close\n") {
		t.Fatalf("a line written after Close: got %q", got)
	}
	b.Close() // idempotent
}

func TestLogBufferWritesWithoutClose(t *testing.T) {
	var out lockedBuffer
	b := newLogBuffer(&out)
	defer b.Close()
	fmt.Fprintln(b.Buffered(), "access 1")
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != "access 1\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the pending line was not written: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogBufferConcurrentWriters(t *testing.T) {
	var out lockedBuffer
	b := newLogBuffer(&out)
	const writers, lines = 8, 5000 // past logBufferSize, so that the goroutine is woken
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				if i%500 == 0 {
					fmt.Fprintf(b.Direct(), "direct %d %d\n", w, i)
				} else {
					fmt.Fprintf(b.Buffered(), "access %d %d\n", w, i)
				}
			}
		})
	}
	wg.Wait()
	b.Close()
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var kind string
		var w, i int
		if _, err := fmt.Sscanf(l, "%s %d %d", &kind, &w, &i); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after line %d", w, i, next[w]-1)
		}
		next[w]++
	}
}
