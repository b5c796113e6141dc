package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/proctest"
)

// TestCreateLimitWithoutTrustedProxiesWarns: behind a router, a node that
// limits session creation without -trusted-proxies sees every client as
// the router, so one bucket throttles everyone: it says so at start.
func TestCreateLimitWithoutTrustedProxiesWarns(t *testing.T) {
	_, _, _, log, stop := startNodeLog(t, "node", "--listen", "127.0.0.1:0", "--dev", "--create-limit", "1,5")
	stop()
	if out := log.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "-trusted-proxies") {
		t.Errorf("no warning about -create-limit without -trusted-proxies:\n%s", out)
	}
	_, _, _, log, stop = startNodeLog(t, "node", "--listen", "127.0.0.1:0", "--dev", "--create-limit", "1,5", "--trusted-proxies", "127.0.0.1/32")
	stop()
	if out := log.String(); strings.Contains(out, "-trusted-proxies") {
		t.Errorf("a warning about -trusted-proxies although it is given:\n%s", out)
	}
}

const testClusterKey = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"

// TestNodeAdvertise: a cluster node that binds every interface and
// advertises 127.0.0.1 prints, gossips and serves its advertised URL, and
// its admin API shows both the bound and the advertised addresses.
func TestNodeAdvertise(t *testing.T) {
	url, admin, token, stop := startNode(t, "node", "--store", "cluster", "--listen", "0.0.0.0:0", "--advertise", "127.0.0.1",
		"--gossip", "0.0.0.0:0", "--data", "0.0.0.0:0", "--gossip-profile", "local", "--cluster-key", testClusterKey, "--dev")
	defer stop()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("the banner shows %s, want the advertised http://127.0.0.1:PORT", url)
	}
	if code, v := newClient(t, url).call("POST", "/api/login", `{"user":"alice"}`); code != http.StatusOK || v["node"] != "n1" {
		t.Fatalf("login at %s: %d %v", url, code, v)
	}
	var got struct {
		Listen, URL string
		Cluster     struct {
			GossipBound string `json:"gossip_bound"`
			Gossip      string
			DataBound   string `json:"data_bound"`
			Data, HTTP  string
		}
	}
	getAdmin(t, admin, token, "/addresses", &got)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	c := got.Cluster
	if got.Listen != "0.0.0.0:"+port || got.URL != url || c.HTTP != url ||
		!strings.HasPrefix(c.GossipBound, "0.0.0.0:") || !strings.HasPrefix(c.Gossip, "127.0.0.1:") ||
		!strings.HasPrefix(c.DataBound, "0.0.0.0:") || !strings.HasPrefix(c.Data, "127.0.0.1:") {
		t.Fatalf("GET /addresses: %+v", got)
	}
}

// TestNodeBindAnyNeedsAdvertise: a cluster node that binds every
// interface without -advertise refuses to start and says what to give.
func TestNodeBindAnyNeedsAdvertise(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:0"},
		{"--listen", "[::]:0"},
		{"--listen", "127.0.0.1:0", "--gossip", "0.0.0.0:0"},
		{"--listen", "127.0.0.1:0", "--advertise", "10.1.2.3"}, // bound to loopback: unreachable
		{"--listen", "0.0.0.0:0", "--advertise", "10.1.2.3"},   // the gossip and data defaults too
	} {
		code, out := runMain(t, append([]string{"node", "--store", "cluster", "--cluster-key", testClusterKey, "--gossip-profile", "local"}, args...)...)
		if code != 1 || !strings.Contains(out, "advertis") {
			t.Errorf("node %v: exit %d, want 1 with a word about -advertise:\n%s", args, code, out)
		}
	}
	if code, out := runMain(t, "node", "--store", "cluster", "--cluster-key", testClusterKey, "--gossip-profile", "fast"); code != 1 || !strings.Contains(out, "local, lan or wan") {
		t.Errorf("an unknown -gossip-profile: exit %d:\n%s", code, out)
	}
}

// TestHelpShowsNetworkFlags: the flags for several machines show in
// -help, with their defaults.
func TestHelpShowsNetworkFlags(t *testing.T) {
	for cmd, want := range map[string][]string{
		"node":   {"-advertise STRING", "-advertise-gossip STRING", "-advertise-data STRING", "-gossip-profile STRING", `(default "lan")`, "-tls-cert STRING", "-tls-key STRING"},
		"router": {"-advertise STRING", "-gossip-profile STRING", `(default "lan")`, "-ca-file FILE", "-client-cert STRING", "-client-key STRING"},
	} {
		code, out := runMain(t, cmd, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s --help does not show %q", cmd, w)
			}
		}
	}
}

// TestNodeIPv6: cluster nodes bound to IPv6 addresses announce bracketed
// URLs, serve on them, and join one another over IPv6.
func TestNodeIPv6(t *testing.T) {
	proctest.NeedIPv6(t)
	args := []string{"node", "--store", "cluster", "--listen", "[::]:0", "--advertise", "::1", "--gossip", "[::1]:0", "--data", "[::]:0",
		"--gossip-profile", "local", "--cluster-key", testClusterKey, "--dev"}
	url, admin, token, stop := startNode(t, append(args, "--name", "n1")...)
	defer stop()
	if !strings.HasPrefix(url, "http://[::1]:") {
		t.Fatalf("the banner shows %s, want http://[::1]:PORT", url)
	}
	if code, v := newClient(t, url).call("POST", "/api/login", `{"user":"alice"}`); code != http.StatusOK || v["user"] != "alice" {
		t.Fatalf("login at %s: %d %v", url, code, v)
	}
	var first struct{ Cluster struct{ Gossip string } }
	getAdmin(t, admin, token, "/addresses", &first)
	if !strings.HasPrefix(first.Cluster.Gossip, "[::1]:") {
		t.Fatalf("n1 gossips on %q, want [::1]:PORT", first.Cluster.Gossip)
	}
	_, admin2, token2, stop2 := startNode(t, append(args, "--name", "n2", "--join", first.Cluster.Gossip)...)
	defer stop2()
	var st struct{ Members []string }
	getAdmin(t, admin2, token2, "/cluster", &st)
	if len(st.Members) != 2 {
		t.Fatalf("n2 sees members %v, want n1 and n2", st.Members)
	}
}

// getAdmin decodes the JSON answer of an admin API's GET.
func getAdmin(t *testing.T, admin, token, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
	}
}

// -advertise is a host: a port in it would reach gossip alone and make
// the node's URL and data address unusable.
func TestNodeAdvertiseRefusesAPort(t *testing.T) {
	code, out := runMain(t, "node", "--store", "cluster", "--cluster-key", testClusterKey, "--gossip-profile", "local", "--advertise", "127.0.0.1:9000")
	if code != 1 || !strings.Contains(out, "-advertise-gossip") {
		t.Fatalf("node --advertise HOST:PORT: exit %d, want 1 naming -advertise-gossip:\n%s", code, out)
	}
}

// The router's gossip flags are refused without -join, which they need,
// rather than ignored.
func TestRouterGossipFlagsNeedJoin(t *testing.T) {
	for _, args := range [][]string{{"--advertise", "10.0.0.1"}, {"--gossip-profile", "wan"}, {"--gossip", "0.0.0.0:7946"}} {
		code, out := runMain(t, append([]string{"router", "--listen", "127.0.0.1:0", "--members", "n1=http://127.0.0.1:1"}, args...)...)
		if code != 1 || !strings.Contains(out, "only with -join") {
			t.Errorf("router %v without -join: exit %d, want 1 saying it needs -join:\n%s", args, code, out)
		}
	}
}
