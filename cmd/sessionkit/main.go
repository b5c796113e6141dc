// Command sessionkit runs the sessionkit demo, shop nodes, the router and
// the lab. Run "sessionkit help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sessionkit/sessionkit/cmd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
