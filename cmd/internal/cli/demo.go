package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sessionkit/sessionkit/cmd/internal/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sessionkit demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	strategy := fs.String("strategy", "cluster", "strategy: "+strings.Join(demo.Strategies, ", "))
	nodes := fs.Int("nodes", 3, "number of shop nodes")
	backups := fs.String("backups", "1", `cluster strategy: backup copies of each session, or "all"`)
	redis := fs.String("redis", "", "redis strategy: the Redis URL")
	postgres := fs.String("postgres", "", "sql strategy: a PostgreSQL URL instead of the shared SQLite file")
	listen := fs.String("listen", "127.0.0.1:8080", "the router's address")
	admin := fs.String("admin", "127.0.0.1:0", "the admin page's address")
	domain := fs.String("domain", "", "serve the shop on shop.DOMAIN and pay.DOMAIN over HTTPS, sharing one session (e.g. mall.test)")
	caDir := fs.String("ca-dir", "", "where the demo keeps its local CA for -domain (default: sessionkit/demo-ca in the user's configuration folder)")
	logf := addLogFlags(fs, "info")
	if err := parseSecrets(fs, args, "redis", "postgres"); err != nil {
		return err
	}
	log, err := logf.logger(stderr)
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	d, err := demo.Start(ctx, demo.Config{Binary: bin, Strategy: *strategy, Nodes: *nodes, Backups: *backups, Redis: *redis, Postgres: *postgres, Listen: *listen, Admin: *admin, Domain: *domain, CADir: *caDir, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, d.Banner())
	if *domain != "" {
		log.Info("demo ready over HTTPS: point shop." + *domain + " and pay." + *domain + " at 127.0.0.1 (/etc/hosts) and trust the CA printed above; Ctrl-C stops everything")
	} else {
		log.Info("demo ready: open the router's URL; Ctrl-C stops everything")
	}
	<-ctx.Done()
	d.Wait()
	return nil
}
