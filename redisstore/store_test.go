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
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// rueidis closes the connections a Cluster topology refresh replaced
	// 5 s later, and starts a lazy refresh after a random delay of up to
	// about a second, each in a goroutine Close does not wait for; both
	// end on their own.
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
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
	}), storetest.ExpiryWithoutPrincipal("a keyspace notification names only the key"))
}

// notifyExpired makes each server publish expired-key events, as the
// operator must for the store's expiry events.
func notifyExpired(t *testing.T, servers ...*redistest.Server) {
	t.Helper()
	for _, srv := range servers {
		if _, err := redistest.Do(srv.Addr(), "CONFIG", "SET", "notify-keyspace-events", "Ex"); err != nil {
			t.Fatalf("CONFIG SET notify-keyspace-events on %s: %v", srv.Addr(), err)
		}
	}
}

func TestConformanceStandalone(t *testing.T) {
	srv := redistest.Start(t, "--notify-keyspace-events", "Ex")
	conformance(t, srv.URL(), redisstore.Config{})
}

func TestConformanceNearCache(t *testing.T) {
	srv := redistest.Start(t, "--notify-keyspace-events", "Ex")
	conformance(t, srv.URL(), redisstore.Config{NearCache: &redisstore.NearCache{}})
}

func TestConformanceSentinel(t *testing.T) {
	g := redistest.StartSentinel(t)
	notifyExpired(t, g.Primary, g.Replica)
	t.Run("Plain", func(t *testing.T) { conformance(t, g.URL(), redisstore.Config{}) })
	t.Run("NearCache", func(t *testing.T) {
		conformance(t, g.URL(), redisstore.Config{NearCache: &redisstore.NearCache{}})
	})
	t.Run("WaitReplicas", func(t *testing.T) { conformance(t, g.URL(), redisstore.Config{WaitReplicas: 1}) })
}

func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	notifyExpired(t, c.Nodes...)
	t.Run("Plain", func(t *testing.T) { conformance(t, c.URL(), redisstore.Config{}) })
	t.Run("NearCache", func(t *testing.T) {
		conformance(t, c.URL(), redisstore.Config{NearCache: &redisstore.NearCache{}})
	})
}

// TestReservedKeys checks that session keys that look like the store's
// metadata fields round-trip and never mix with the metadata.
func TestReservedKeys(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), redisstore.Config{})
	ctx := context.Background()
	now := time.Now()
	values := map[string][]byte{"#": []byte("1"), "#p": []byte("2"), "##v": []byte("3"), "": []byte("4"), "plain": []byte("5")}
	tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Principal: "carol", Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)},
		Values: values,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "#v", Value: []byte("6")}}, Deleted: []string{"#"}, IdleDeadline: now.Add(time.Hour)}
	if _, err := s.Commit(ctx, tok, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, tok, "#p", now.Add(time.Hour), func(old []byte, ok bool) ([]byte, error) {
		return append(old, '!'), nil
	}); err != nil {
		t.Fatal(err)
	}
	rec, found, err := s.Load(ctx, tok)
	if err != nil || !found {
		t.Fatalf("Load: %v %v", found, err)
	}
	want := map[string]string{"#p": "2!", "##v": "3", "": "4", "plain": "5", "#v": "6"}
	if len(rec.Values) != len(want) || rec.Principal != "carol" {
		t.Fatalf("values %q, principal %q", rec.Values, rec.Principal)
	}
	for k, v := range want {
		if string(rec.Values[k]) != v {
			t.Fatalf("values[%q] = %q, want %q (all: %q)", k, rec.Values[k], v, rec.Values)
		}
	}
}
