package cli

import (
	"context"
	"flag"
	"io"

	"github.com/sessionkit/sessionkit/internal/node"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sessionkit demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the shop on")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := logger(stderr, *level)
	if err != nil {
		return err
	}
	// Plain HTTP on loopback: the development cookie, so that every
	// browser keeps it.
	sf := storeFlags{store: "memory"}
	return serveNode(ctx, &sf, node.Config{Name: "n1", Strategy: "memory", Listen: *listen, Dev: true, Logger: log}, stdout)
}
