package redisstore_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testredis"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// rueidis closes the connections a Cluster topology refresh replaced
	// 5 s later, in a goroutine Close does not wait for.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"))
}

// open returns a store for url with a prefix of its own, closed when the
// test ends.
func open(t testing.TB, url string, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	cfg.URL = url
	if cfg.Prefix == "" {
		cfg.Prefix = "t" + string(sessionkit.NewToken())[:8] + ":"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := redisstore.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dump returns every key and value on every primary the client reaches,
// for storetest.AtRest.
func dump(c rueidis.Client) func() ([]byte, error) {
	return func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out strings.Builder
		for addr, n := range c.Nodes() {
			var cursor uint64
			for {
				e, err := n.Do(ctx, n.B().Scan().Cursor(cursor).Count(1000).Build()).AsScanEntry()
				if err != nil {
					if strings.Contains(err.Error(), "READONLY") || strings.Contains(err.Error(), "MOVED") {
						break
					}
					return nil, fmt.Errorf("%s: %w", addr, err)
				}
				sort.Strings(e.Elements)
				for _, k := range e.Elements {
					fmt.Fprintf(&out, "%s:\n", k)
					typ, _ := n.Do(ctx, n.B().Type().Key(k).Build()).ToString()
					var vals []string
					switch typ {
					case "hash":
						m, _ := n.Do(ctx, n.B().Hgetall().Key(k).Build()).AsStrMap()
						for f, v := range m {
							vals = append(vals, f+"="+v)
						}
					case "zset":
						vals, _ = n.Do(ctx, n.B().Zrange().Key(k).Min("0").Max("-1").Build()).AsStrSlice()
					case "string":
						v, _ := n.Do(ctx, n.B().Get().Key(k).Build()).ToString()
						vals = []string{v}
					}
					for _, v := range vals {
						fmt.Fprintf(&out, "  %q\n", v)
					}
				}
				if cursor = e.Cursor; cursor == 0 {
					break
				}
			}
		}
		return []byte(out.String()), nil
	}
}

func conformance(t *testing.T, url string, cfg redisstore.Config) {
	storetest.Run(t, func(t *testing.T) sessionkit.Store { return open(t, url, cfg) }, storetest.AtRest(func() ([]byte, error) {
		s := open(t, url, redisstore.Config{})
		return dump(s.Client())()
	}))
}

func TestConformanceStandalone(t *testing.T) {
	srv := testredis.Start(t)
	conformance(t, srv.URL(), redisstore.Config{})
}

func TestConformanceNearCache(t *testing.T) {
	srv := testredis.Start(t)
	conformance(t, srv.URL(), redisstore.Config{NearCache: &redisstore.NearCache{}})
}

func TestConformanceSentinel(t *testing.T) {
	g := testredis.StartSentinel(t)
	conformance(t, g.URL(), redisstore.Config{})
}

func TestConformanceCluster(t *testing.T) {
	c := testredis.StartCluster(t)
	conformance(t, c.URL(), redisstore.Config{})
}
