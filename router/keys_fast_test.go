package router_test

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/router"
)

// keyKinds are the key configurations the fast path must carry, each
// with what to add to a request so that it has the key.
var keyKinds = []struct {
	name    string
	keys    []string
	trusted bool // 127.0.0.0/8 is a trusted proxy
	mark    func(req string) string
}{
	{"ip", []string{"ip"}, false, addHeader("X-Forwarded-For: 198.51.100.7")},
	{"ip from X-Forwarded-For", []string{"ip"}, true, addHeader("X-Forwarded-For: 198.51.100.7")},
	{"ip from Forwarded", []string{"ip"}, true, addHeader("Forwarded: for=198.51.100.7;proto=http")},
	{"header", []string{"header:X-Id"}, false, func(req string) string { return req }},
	{"cookie", []string{"cookie:sid"}, false, addHeader("Cookie: theme=dark; sid=s1")},
	{"query", []string{"query:k"}, false, func(req string) string {
		return strings.Replace(req, " /hostile ", " /hostile?x=1&k=a%2Fb+c ", 1)
	}},
	{"fallbacks", []string{"cookie:sid", "query:k", "header:X-User", "ip"}, true, addHeader("X-User: alice")},
}

// addHeader returns a mark that adds a header line after the request
// line.
func addHeader(line string) func(string) string {
	return func(req string) string { return strings.Replace(req, "\r\n", "\r\n"+line+"\r\n", 1) }
}

// fastServer serves rt with router.Server and counts the connections
// its fast path hands to net/http.
func fastServer(t *testing.T, rt *router.Router) (addr string, handed *atomic.Int64) {
	handed = new(atomic.Int64)
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				handed.Add(1)
			}
		}}
	return strings.TrimPrefix(serveWith(t, rt, hs).URL, "http://"), handed
}

func keyConfig(keys []string, trusted bool) router.Config {
	cfg := router.Config{Keys: keys, Logger: quiet, Health: router.HealthConfig{Interval: time.Hour}}
	if trusted {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	return cfg
}

// TestHostileBackendsEveryKey runs the hostile-backend table, and the
// requests racing each row's (the cross-wiring test), with the routing
// key of every kind, to plain HTTP backends and, with the fallbacks
// between every kind, to TLS backends: the fast path serves every request
// itself, and the client sees what it sees on the net/http path.
func TestHostileBackendsEveryKey(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		for _, kind := range keyKinds {
			if scheme == "https" && kind.name != "fallbacks" {
				// The key is the client side's, TLS the backend side's:
				// over TLS the fallbacks, which look for every kind,
				// stand for them all, within the package's time limit.
				// TestBackendTLSFastPath routes each kind over TLS.
				continue
			}
			// One kind at a time, its rows in parallel, as TestHostileBackends:
			// no more load than that on the timing the rows depend on.
			t.Run(scheme+"/"+kind.name, func(t *testing.T) {
				for _, row := range hostileRows {
					row.req = kind.mark(row.req)
					t.Run(row.name, func(t *testing.T) {
						t.Parallel()
						var results [2]clientResult
						for i, path := range []string{"fast", "net/http"} {
							b := newHostileBackend(t, row, scheme)
							cfg := keyConfig(kind.keys, kind.trusted)
							// The stalling row waits for the timeout; any other
							// answer must come well within it, even under the
							// race detector on a loaded machine.
							cfg.ResponseHeaderTimeout = 30 * time.Second
							if row.stalls {
								cfg.ResponseHeaderTimeout = time.Second
							}
							cfg.BackendTLS = backendTLS(scheme)
							rt, err := router.New(cfg, []router.Member{{Name: "n1", URL: b.url}})
							if err != nil {
								t.Fatal(err)
							}
							t.Cleanup(func() { rt.Close() })
							if path == "net/http" {
								results[i] = hostileExchange(t, path, strings.TrimPrefix(serveOn(t, rt, path), "http://"), b, row)
								continue
							}
							addr, handed := fastServer(t, rt)
							results[i] = hostileExchange(t, path, addr, b, row)
							if n := handed.Load(); n != 0 {
								t.Fatalf("the fast path handed %d connections to net/http", n)
							}
						}
						if !reflect.DeepEqual(results[0], results[1]) {
							t.Errorf("client sees\nfast:     %v\nnet/http: %v", results[0], results[1])
						}
					})
				}
			})
		}
	}
}

// TestEveryKeySameMember sends requests with keys of every kind, and
// without, through the fast path and through net/http, to a router over
// five backends: each reaches the same backend on both, and the fast
// path serves them all itself.
func TestEveryKeySameMember(t *testing.T) {
	var members []router.Member
	for _, name := range []string{"n1", "n2", "n3", "n4", "n5"} {
		members = append(members, newBackend(t, name).member())
	}
	heads := []string{
		"GET /p?k=v1 HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.1\r\nX-User: alice\r\nCookie: sid=c1\r\n\r\n",
		"GET /p?x=%41&k=a%2Fb+c HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6, 198.51.100.2\r\nX-Forwarded-For: 127.0.0.9\r\n\r\n",
		"GET /p?k; HTTP/1.1\r\nHost: a\r\nForwarded: for=\"[2001:db8::3]:80\";proto=http\r\nCookie: theme=dark; sid=\"c3\"\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nX-User: bob\r\nContent-Length: 2\r\n\r\nhi",
		"GET /p HTTP/1.1\r\nHost: a\r\nCookie: sid=\r\nX-Forwarded-For: garbage\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: a\r\nx-user: carol\r\nCookie: session=tok5\r\n\r\n",
	}
	for _, kind := range keyKinds {
		for _, k := range []struct {
			name    string
			keys    []string
			trusted bool
		}{{kind.name, kind.keys, kind.trusted}, {kind.name + " after token", append([]string{"token"}, kind.keys...), kind.trusted}} {
			t.Run(k.name, func(t *testing.T) {
				var got [2][]string
				for i, path := range []string{"fast", "net/http"} {
					rt, err := router.New(keyConfig(k.keys, k.trusted), members)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { rt.Close() })
					addr, handed := fastServer(t, rt)
					if path == "net/http" {
						addr = strings.TrimPrefix(serveOn(t, rt, path), "http://")
					}
					for _, h := range heads {
						// A connection of its own for each: a request without
						// a key goes to the least-loaded backend, which on an
						// idle router is each in turn.
						c, err := net.Dial("tcp", addr)
						if err != nil {
							t.Fatal(err)
						}
						res, _ := roundTrip(c, bufio.NewReader(c), h)
						c.Close()
						if res.Status != 200 {
							t.Fatalf("%s: %q: %v", path, h, res)
						}
						got[i] = append(got[i], res.Header.Get("X-Backend"))
					}
					if n := handed.Load(); path == "fast" && n != 0 {
						t.Fatalf("the fast path handed %d connections to net/http", n)
					}
				}
				for i, h := range heads {
					if got[0][i] != got[1][i] {
						t.Errorf("%q: fast path to %s, net/http to %s", h, got[0][i], got[1][i])
					}
				}
			})
		}
	}
}
