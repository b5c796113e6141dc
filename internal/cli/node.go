package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/node"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/placement"
	"github.com/sessionkit/sessionkit/ring"
	"github.com/sessionkit/sessionkit/router"
)

// storeFlags are the flags that choose and configure a session store.
type storeFlags struct {
	store string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "memory", "session store: memory")
}

// open opens the chosen store; close releases it.
func (f *storeFlags) open(ctx context.Context) (store sessionkit.Store, close func() error, err error) {
	switch f.store {
	case "memory":
		s := memstore.New()
		return s, s.Close, nil
	default:
		return nil, nil, fmt.Errorf("unknown store %q (want memory)", f.store)
	}
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sessionkit node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve on")
	name := fs.String("name", "n1", "this node's stable name")
	strategy := fs.String("strategy", "", "strategy name to display (default: the store's name)")
	dev := fs.Bool("dev", false, "development cookie for plain HTTP on loopback (not Secure, no __Host- prefix)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	members := fs.String("members", "", `the router's members ("name=URL[,weight]" separated by spaces): mint tokens this node owns on their ring`)
	if err := parse(fs, args); err != nil {
		return err
	}
	var session sessionkit.Config
	if *members != "" {
		list, err := router.ParseMembers(strings.NewReader(*members))
		if err != nil {
			return err
		}
		var rm []ring.Member
		for _, m := range list {
			rm = append(rm, ring.Member{Name: m.Name, Weight: m.Weight})
		}
		r, err := ring.New(ring.Config{}, rm)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(list, func(m router.Member) bool { return m.Name == *name }) {
			return fmt.Errorf("-members does not list this node, %q", *name)
		}
		session.Minter = placement.NewMinter(*name, func() *ring.Ring { return r })
	}
	log, err := logger(stderr, *level)
	if err != nil {
		return err
	}
	if *strategy == "" {
		*strategy = sf.store
	}
	return serveNode(ctx, &sf, node.Config{Name: *name, Strategy: *strategy, Listen: *listen, Dev: *dev, Logger: log, Session: session}, stdout)
}

// serveNode opens the store, starts the node, prints its banner and serves
// until ctx ends.
func serveNode(ctx context.Context, sf *storeFlags, cfg node.Config, stdout io.Writer) error {
	store, closeStore, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	cfg.Store = store
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, n.Banner(pid))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Shutdown(sctx)
}
