package node

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/memstore"
)

// TestQuiesce: a stopping node waits for a pause in the shop's requests,
// which health checks do not break, and no longer than its context.
func TestQuiesce(t *testing.T) {
	store := memstore.New()
	defer store.Close()
	n, err := Start(Config{Store: store, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	get := func(path string) error {
		resp, err := http.Get(n.URL() + path)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	// keep gets path every 10 ms until the returned stop is called.
	keep := func(path string) (stop func()) {
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(10 * time.Millisecond):
					get(path)
				}
			}
		}()
		return func() { close(done) }
	}

	// A pause in the shop's requests, while health checks go on.
	last := time.Now() // before the request: the node notes it later
	if err := get("/"); err != nil {
		t.Fatal(err)
	}
	stopChecks := keep("/healthz")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Quiesce(ctx, 300*time.Millisecond)
	stopChecks()
	if ctx.Err() != nil {
		t.Fatal("health checks held Quiesce until its context ended")
	}
	if d := time.Since(last); d < 300*time.Millisecond {
		t.Fatalf("Quiesce returned %v after the last shop request, want at least 300ms", d)
	}

	// Shop requests that keep coming hold it until its context ends.
	if err := get("/"); err != nil {
		t.Fatal(err)
	}
	stopShop := keep("/")
	defer stopShop()
	short, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	n.Quiesce(short, time.Second)
	if short.Err() == nil {
		t.Fatal("Quiesce returned while requests kept coming and its context was live")
	}
}
