package cookiestore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
	"github.com/sessionkit/sessionkit/internal/proc"
)

// changes records the lifecycle events a Manager reports.
type changes struct {
	mu   sync.Mutex
	seen []sessionkit.Change
}

func (c *changes) Observe(_ context.Context, e sessionkit.Event) {
	if e.Change != 0 {
		c.mu.Lock()
		c.seen = append(c.seen, e.Change)
		c.mu.Unlock()
	}
}

// A cookie session that idles out is refused when it comes back, and the
// Manager reports no Expired event for it: the store cannot know of it.
func TestNoExpiryEvents(t *testing.T) {
	store := newStore(t, cookiestore.Config{})
	if _, ok := any(store).(sessionkit.ExpiryNotifier); ok {
		t.Fatal("the cookie store implements ExpiryNotifier")
	}
	obs := &changes{}
	a := newApp(t, store, sessionkit.Config{Observer: obs, IdleTimeout: 100 * time.Millisecond})
	j := a.session("/set?k=a&v=1")
	err := proc.WaitFor(10*time.Second, func() error {
		if v := a.do("/get?k=a", j.Header()).Body.String(); v != "" {
			return fmt.Errorf("the session still opens (a=%q)", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !slices.Equal(obs.seen, []sessionkit.Change{sessionkit.Created}) {
		t.Fatalf("lifecycle events %v, want only Created", obs.seen)
	}
}
