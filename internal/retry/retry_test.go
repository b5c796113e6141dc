package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBound(t *testing.T) {
	b := Backoff{First: time.Millisecond, Max: 50 * time.Millisecond}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 50, 50}
	for i, w := range want {
		if got := b.Bound(i + 1); got != w*time.Millisecond {
			t.Errorf("Bound(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := b.Bound(1 << 20); got != b.Max {
		t.Errorf("Bound(1<<20) = %v, want Max", got)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{First: time.Hour, Max: time.Hour}
	if err := b.Wait(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on an ended context = %v, want context.Canceled", err)
	}
	if err := (Backoff{}).Wait(context.Background(), 3); err != nil {
		t.Errorf("zero Backoff: Wait = %v", err)
	}
	if err := (Backoff{First: time.Microsecond, Max: time.Microsecond}).Wait(context.Background(), 1); err != nil {
		t.Errorf("Wait = %v", err)
	}
}
