package cli

import (
	"io"
	"sync"
	"time"
)

// Bounds of a logBuffer's pending lines.
const (
	logBufferSize     = 64 << 10 // pending bytes that wake the writer
	logBufferMax      = 1 << 20  // pending bytes past which writers wait for the write
	logFlushInterval  = 100 * time.Millisecond
	logBufferKeepSize = 256 << 10 // a buffer larger than this is not kept for reuse
)

// logBuffer writes log lines to w. Lines written through Buffered are
// batched and written by a goroutine of the buffer's own, when 64 KiB are
// pending or every 100 ms, as nginx's access_log buffer= and flush= do:
// a request writing its access log line makes no system call and never
// waits on w (unless w falls a megabyte behind). Lines written through
// Direct are written at once, after every line written before them. Its
// methods may be called concurrently; Close writes what is pending and
// stops the goroutine.
type logBuffer struct {
	w io.Writer

	wmu   sync.Mutex // held while writing to w; keeps the lines in order
	spare []byte     // the buffer being written, held under wmu

	mu  sync.Mutex
	buf []byte // pending lines

	kick      chan struct{}
	done      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: w, kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go b.run()
	return b
}

func (b *logBuffer) run() {
	defer close(b.stopped)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-b.kick:
		case <-t.C:
		}
		b.wmu.Lock()
		b.writePending()
		b.wmu.Unlock()
	}
}

// writePending writes the pending lines; the caller holds wmu.
func (b *logBuffer) writePending() {
	b.mu.Lock()
	if len(b.buf) == 0 {
		b.mu.Unlock()
		return
	}
	b.buf, b.spare = b.spare[:0], b.buf
	b.mu.Unlock()
	b.w.Write(b.spare) // a log line that cannot be written has nowhere to be reported
	if cap(b.spare) > logBufferKeepSize {
		b.spare = nil
	} else {
		b.spare = b.spare[:0]
	}
}

// Buffered returns the writer whose lines are batched.
func (b *logBuffer) Buffered() io.Writer { return bufferedWriter{b} }

// Direct returns the writer whose lines are written at once.
func (b *logBuffer) Direct() io.Writer { return directWriter{b} }

// Close writes the pending lines and stops the buffer's goroutine. Lines
// written after Close are written at once.
func (b *logBuffer) Close() error {
	b.closeOnce.Do(func() {
		close(b.done)
		<-b.stopped
	})
	b.wmu.Lock()
	b.writePending()
	b.wmu.Unlock()
	return nil
}

type bufferedWriter struct{ b *logBuffer }

func (w bufferedWriter) Write(p []byte) (int, error) {
	b := w.b
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	n := len(b.buf)
	b.mu.Unlock()
	select {
	case <-b.done:
		n = logBufferMax // closed: no goroutine writes it
	default:
	}
	switch {
	case n >= logBufferMax:
		b.wmu.Lock()
		b.writePending()
		b.wmu.Unlock()
	case n >= logBufferSize:
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

type directWriter struct{ b *logBuffer }

func (w directWriter) Write(p []byte) (int, error) {
	b := w.b
	b.wmu.Lock()
	defer b.wmu.Unlock()
	b.writePending()
	return b.w.Write(p)
}
