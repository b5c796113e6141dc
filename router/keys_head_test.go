package router

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/clientip"
	"github.com/sessionkit/sessionkit/ring"
)

// keyConfigs are the key configurations the differential tests route by.
var keyConfigs = []struct {
	keys    []string
	trusted []netip.Prefix
}{
	{keys: []string{"token"}},
	{keys: []string{"ip"}},
	{keys: []string{"ip"}, trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}},
	{keys: []string{"ip"}, trusted: []netip.Prefix{netip.MustParsePrefix("::/0"), netip.MustParsePrefix("0.0.0.0/0")}},
	{keys: []string{"header:X-User"}},
	{keys: []string{"header:cache-control"}},
	{keys: []string{"header:Host"}},
	{keys: []string{"cookie:sid"}},
	{keys: []string{"query:k"}},
	{keys: []string{"query:a b"}},
	{keys: []string{"cookie:sid", "query:k", "header:X-User", "ip"}, trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	{keys: []string{"token", "cookie:sid", "header:X-User"}},
	{keys: []string{"query:k", "cookie:sid"}},
	{keys: []string{"header:Connection", "header:x-forwarded-for", "cookie:session", "query:q"}},
}

// keyHeads are requests each key kind is found in, or not.
var keyHeads = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.2\r\nx-forwarded-for: 10.0.0.3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.3, 10.0.0.2\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: garbage, 10.0.0.2\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7,\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: [2001:db8::1]:443 , ::ffff:10.0.0.9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=192.0.2.60;proto=http;by=203.0.113.43\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=\"[2001:db8:cafe::17]:4711\", FOR=10.0.0.4;for=192.0.2.9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nForwarded: proto=https\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=fe80::1%25eth0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-User: alice\r\nx-user: bob\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-User:\r\nX-User: bob\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: theme=dark; sid=s1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: sid=\"s2\"; sid=s3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: sid=a\\b; sid = s4 \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: sid=\r\nCookie: sid=s5\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: ;;sid=s6;\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: " + strings.Repeat(";", maxCookies) + "sid=s7\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: __Host-session=tok; session.1=x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: session=part0; session.1=part1\r\nX-User: carol\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Session-Token: tok2\r\n\r\n",
	"GET /p?k=v1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p?x=1&k=%41%2b+b&k=2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p?k;x=1&k= HTTP/1.1\r\nHost: a\r\nCookie: sid=s8\r\n\r\n",
	"GET /p?%6B=esc&a+b=sp&a%20b=sp2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p?&&k&k=late HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p?k=a=b?c HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.5\r\n\r\n",
}

var keyRemotes = []string{"127.0.0.1:4000", "10.0.0.1:4000", "[::1]:4000", "192.0.2.1:4000", "[::ffff:10.0.0.7]:4000"}

// keyRouter returns a Router that only finds keys: no members, no health
// checks.
func keyRouter(t testing.TB, keys []string, trusted []netip.Prefix) *Router {
	t.Helper()
	cfg := Config{Keys: keys, TrustedProxies: trusted}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	ks, err := parseKeys(cfg.Keys)
	if err != nil {
		t.Fatal(err)
	}
	return &Router{cfg: cfg, keys: ks, resolver: clientip.Resolver{Trusted: trusted}, tokenHeader: strings.ToLower(cfg.TokenHeader)}
}

// compareKeys holds headKey to Router.key: for the head in raw (which
// parseHead accepted into h) from remote, both find the same key of the
// same kind, so the ring gives both the same member.
func compareKeys(t *testing.T, rt *Router, raw []byte, h *head, remote string, members *ring.Ring) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("net/http refuses %q: %v", raw, err)
	}
	req.RemoteAddr = remote
	want, wantKind := rt.key(req)
	ap, _ := netip.ParseAddrPort(remote)
	var ks keyScratch
	got, kind := rt.headKey(h, ap.Addr().Unmap(), &ks)
	if kind != wantKind || !bytes.Equal(got, want) {
		t.Fatalf("keys %v from %s, head %q:\nfast path %v %q\nnet/http  %v %q", rt.cfg.Keys, remote, raw, kind, got, wantKind, want)
	}
	if members != nil && kind != keyNone {
		if g, w := members.Owners(got, 1, nil)[0], members.Owners(want, 1, nil)[0]; g != w {
			t.Fatalf("member %s, net/http %s", g, w)
		}
	}
}

// TestHeadKeyAsNetHTTP: for every head of the table and every key
// configuration, from peers trusted and not, the fast path finds the key
// net/http's path does, and routes to the same member.
func TestHeadKeyAsNetHTTP(t *testing.T) {
	var rm []ring.Member
	for i := range 5 {
		rm = append(rm, ring.Member{Name: fmt.Sprintf("n%d", i), Weight: 1})
	}
	members, err := ring.New(ring.Config{}, rm)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[keyKind]int{}
	for _, kc := range keyConfigs {
		rt := keyRouter(t, kc.keys, kc.trusted)
		for _, s := range keyHeads {
			raw := []byte(s)
			var h head
			if end := headEnd(raw); end != len(raw) || !parseHead(raw, &h) {
				t.Fatalf("the fast path refuses %q", s)
			}
			for _, remote := range keyRemotes {
				compareKeys(t, rt, raw, &h, remote, members)
				var ks keyScratch
				ap := netip.MustParseAddrPort(remote)
				_, kind := rt.headKey(&h, ap.Addr().Unmap(), &ks)
				kinds[kind]++
			}
		}
	}
	for k := keyNone; k <= keyQuery; k++ {
		if kinds[k] == 0 {
			t.Errorf("no head of the table routed by %v", k)
		}
	}
}

// TestHeadKeyAllocs: finding a key of each kind allocates nothing.
func TestHeadKeyAllocs(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		keys []string
		head string
		want keyKind
	}{
		{[]string{"token"}, "GET / HTTP/1.1\r\nHost: a\r\nCookie: session=part0; session.1=part1\r\n\r\n", keyToken},
		{[]string{"ip"}, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", keyIP},
		{[]string{"ip"}, "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7, 10.0.0.2\r\n\r\n", keyIP},
		{[]string{"ip"}, "GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=198.51.100.7;proto=http, for=10.0.0.2\r\n\r\n", keyIP},
		{[]string{"ip"}, "GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=\"[2001:db8::1]:4711\", for=10.0.0.2:80\r\n\r\n", keyIP},
		{[]string{"header:X-User"}, "GET / HTTP/1.1\r\nHost: a\r\nX-User: alice\r\n\r\n", keyHeader},
		{[]string{"cookie:sid"}, "GET / HTTP/1.1\r\nHost: a\r\nCookie: theme=dark; sid=\"s1\"\r\n\r\n", keyCookie},
		{[]string{"query:k"}, "GET /p?x=1&k=a%2Fb+c HTTP/1.1\r\nHost: a\r\n\r\n", keyQuery},
		{[]string{"cookie:sid", "query:k", "header:X-User", "ip"}, "GET /p?k=1 HTTP/1.1\r\nHost: a\r\n\r\n", keyQuery},
		{[]string{"cookie:sid", "query:k", "ip"}, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", keyIP},
	} {
		rt := keyRouter(t, c.keys, trusted)
		var h head
		if !parseHead([]byte(c.head), &h) {
			t.Fatalf("the fast path refuses %q", c.head)
		}
		var ks keyScratch
		peer := netip.MustParseAddr("10.0.0.1")
		if _, kind := rt.headKey(&h, peer, &ks); kind != c.want {
			t.Fatalf("%v %q: kind %v, want %v", c.keys, c.head, kind, c.want)
		}
		if n := testing.AllocsPerRun(100, func() { rt.headKey(&h, peer, &ks) }); n != 0 {
			t.Errorf("%v %q: %v allocations, want 0", c.keys, c.head, n)
		}
	}
}

// FuzzHeadKey holds headKey to Router.key on any head the fast path
// takes, for every key configuration and peer of the tables.
func FuzzHeadKey(f *testing.F) {
	for i, s := range append(append([]string{}, keyHeads...), headSeeds...) {
		f.Add([]byte(s), uint8(i), uint8(i/3))
	}
	routers := make([]*Router, len(keyConfigs))
	for i, kc := range keyConfigs {
		routers[i] = keyRouter(f, kc.keys, kc.trusted)
	}
	f.Fuzz(func(t *testing.T, raw []byte, config, remote uint8) {
		end := headEnd(raw)
		var h head
		if end <= 0 || !parseHead(raw[:end], &h) {
			return
		}
		compareKeys(t, routers[int(config)%len(routers)], raw[:end], &h, keyRemotes[int(remote)%len(keyRemotes)], nil)
	})
}

// TestBoundLoad: the first backend within the bound moves to the front,
// the others keep their order, and nothing is allocated.
func TestBoundLoad(t *testing.T) {
	all := make([]*backend, 4)
	for i, load := range []int64{9, 7, 1, 3} {
		all[i] = &backend{Member: Member{Name: fmt.Sprint("n", i)}}
		all[i].inflight.Store(load)
	}
	prefs := make([]*backend, len(all))
	names := func(bs []*backend) string {
		var s []string
		for _, b := range bs {
			s = append(s, b.Name)
		}
		return strings.Join(s, " ")
	}
	// The mean with the new request is 21/4: at c=1.25 the bound is
	// 6.56, which n0 and n1 exceed.
	copy(prefs, all)
	if got := names(boundLoad(prefs, 1.25, all)); got != "n2 n0 n1 n3" {
		t.Fatalf("order %s", got)
	}
	copy(prefs, all)
	if got := names(boundLoad(prefs, 2, all)); got != "n0 n1 n2 n3" {
		t.Fatalf("order %s, want the first kept: it is within the bound", got)
	}
	if n := testing.AllocsPerRun(100, func() { copy(prefs, all); boundLoad(prefs, 1.25, all) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// BenchmarkHeadKey finds the key of each kind in a browser's head (a
// dozen fields, five cookies): the fast path's own work per request,
// without the network.
//
//	go test -run '^$' -bench HeadKey ./router
func BenchmarkHeadKey(b *testing.B) {
	const fields = "Host: shop.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-GB,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nX-Forwarded-For: 198.51.100.7\r\nX-User: user-42\r\n" +
		"Cookie: theme=dark; lang=en; uid=u-42; __Host-session=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq; consent=yes\r\n" +
		"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: same-origin\r\n\r\n"
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	for _, c := range []struct{ name, key string }{
		{"token", "token"}, {"ip", "ip"}, {"header", "header:X-User"}, {"cookie", "cookie:uid"}, {"query", "query:uid"},
	} {
		b.Run(c.name, func(b *testing.B) {
			rt := keyRouter(b, []string{c.key}, trusted)
			raw := []byte("GET /cart?page=1&uid=u-42 HTTP/1.1\r\n" + fields)
			var h head
			if !parseHead(raw, &h) {
				b.Fatal("the fast path refuses the head")
			}
			var ks keyScratch
			peer := netip.MustParseAddr("127.0.0.1")
			b.ReportAllocs()
			for b.Loop() {
				if _, kind := rt.headKey(&h, peer, &ks); kind == keyNone {
					b.Fatal("no key")
				}
			}
		})
	}
}

// BenchmarkPrefer picks a key's backends among 3 and 12 healthy members,
// the fast path's two and all of them (the net/http path's).
//
//	go test -run '^$' -bench Prefer ./router
func BenchmarkPrefer(b *testing.B) {
	for _, n := range []int{3, 12} {
		v := &view{backends: map[string]*backend{}}
		var rm []ring.Member
		for i := range n {
			be, err := newBackend(Member{Name: fmt.Sprintf("n%d", i), URL: fmt.Sprintf("http://127.0.0.1:%d", 1000+i), Weight: 1}, nil)
			if err != nil {
				b.Fatal(err)
			}
			v.backends[be.Name], v.list = be, append(v.list, be)
			rm = append(rm, ring.Member{Name: be.Name, Weight: 1})
		}
		r, err := ring.New(ring.Config{}, rm)
		if err != nil {
			b.Fatal(err)
		}
		v.ring = r
		rt := keyRouter(b, []string{"token"}, nil)
		key := []byte("abcdefghijklmnopqrstuvwxyzabcdef")
		for _, want := range []int{2, 0} {
			b.Run(fmt.Sprintf("members=%d/want=%d", n, want), func(b *testing.B) {
				var prefs []*backend
				var names []string
				b.ReportAllocs()
				for b.Loop() {
					prefs, names = rt.prefer(v, key, keyToken, prefs[:0], names[:0], want)
				}
			})
		}
	}
}
