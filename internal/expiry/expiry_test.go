package expiry

import (
	"context"
	"slices"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestNotifier(t *testing.T) {
	var n Notifier
	n.Queue(sessionkit.Expiry{ID: "before"}) // nobody listens: kept nowhere
	var got [2][]string
	for i := range got {
		first := n.Add(func(_ context.Context, batch []sessionkit.Expiry) {
			for _, x := range batch {
				got[i] = append(got[i], x.ID)
			}
		})
		if first != (i == 0) {
			t.Fatalf("Add %d reported first=%v", i, first)
		}
	}
	n.Queue(sessionkit.Expiry{ID: "a"})
	n.Queue(sessionkit.Expiry{ID: "b"})
	n.Flush(context.Background())
	n.Flush(context.Background()) // nothing twice
	n.Deliver(context.Background(), nil)
	n.Close()
	n.Queue(sessionkit.Expiry{ID: "after"})
	n.Flush(context.Background())
	for i := range got {
		if !slices.Equal(got[i], []string{"a", "b"}) {
			t.Errorf("function %d got %q, want [a b]", i, got[i])
		}
	}
}
