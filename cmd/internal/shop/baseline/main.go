// Command baseline serves the shop's JSON API without sessions
// (shop.Baseline) through a shop node's server and middleware (node.Start
// with Baseline), the no-session yardstick of bench/saturation.sh:
//
//	baseline NAME ADDRESS
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/node"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: baseline NAME ADDRESS")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.Start(node.Config{Name: os.Args[1], Listen: os.Args[2], Baseline: true, Dev: true})
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
