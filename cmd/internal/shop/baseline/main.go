// Command baseline serves the shop's JSON API without sessions
// (shop.Baseline) through a shop node's server and middleware (node.Start
// with the baseline as its App), the no-session yardstick of
// bench/saturation.sh:
//
//	baseline NAME ADDRESS [WORK]
//
// WORK, a duration such as 3us, adds that much CPU work to every request
// (rounds of SHA-256, counted at start on this core): what a given cost per
// request comes to at saturation, beside what sessions come to.
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/node"
	"github.com/sessionkit/sessionkit/cmd/internal/shop"
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: baseline NAME ADDRESS [WORK]")
		os.Exit(2)
	}
	app := shop.Baseline(os.Args[1])
	if len(os.Args) == 4 {
		work, err := time.ParseDuration(os.Args[3])
		if err != nil || work <= 0 {
			fmt.Fprintln(os.Stderr, "baseline: WORK must be a positive duration, such as 3us")
			os.Exit(2)
		}
		app = withWork(app, work)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.Start(node.Config{Name: os.Args[1], Listen: os.Args[2], App: app, Dev: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "baseline %s listening on %s\n", os.Args[1], n.URL())
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Shutdown(shutdown)
}

// withWork runs work's worth of SHA-256 rounds before each request. A
// round's time is the fastest of several probes: the nodes start at once
// and share the cores, and a probe that was preempted counts too long.
func withWork(h http.Handler, work time.Duration) http.Handler {
	var sum [32]byte
	const probe = 5000
	fastest := time.Duration(1<<63 - 1)
	for range 40 {
		start := time.Now()
		for range probe {
			sum = sha256.Sum256(sum[:])
		}
		fastest = min(fastest, time.Since(start))
	}
	rounds := max(1, int(work*probe/fastest))
	fmt.Fprintf(os.Stderr, "baseline: %d SHA-256 rounds a request for %v\n", rounds, work)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sum // the compiler keeps calls into assembly it cannot see through
		for range rounds {
			s = sha256.Sum256(s[:])
		}
		h.ServeHTTP(w, r)
	})
}
