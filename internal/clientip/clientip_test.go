package clientip

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		name, remote, xff, fwd string
		trusted                []netip.Prefix
		want                   string
	}{
		{"no proxy trusted ignores XFF", "1.2.3.4:5", "9.9.9.9", "", nil, "1.2.3.4"},
		{"untrusted peer ignores XFF", "1.2.3.4:5", "9.9.9.9", "", trusted, "1.2.3.4"},
		{"trusted peer", "10.0.0.1:5", "9.9.9.9", "", trusted, "9.9.9.9"},
		{"spoofed left entries ignored", "10.0.0.1:5", "6.6.6.6, 9.9.9.9", "", trusted, "9.9.9.9"},
		{"chain of trusted proxies", "10.0.0.1:5", "9.9.9.9, 10.0.0.2", "", trusted, "9.9.9.9"},
		{"all trusted", "10.0.0.1:5", "10.0.0.3, 10.0.0.2", "", trusted, "10.0.0.3"},
		{"malformed hop", "10.0.0.1:5", "garbage", "", trusted, "10.0.0.1"},
		{"forwarded header", "[::1]:5", "", `for="[2001:db8::1]:80";proto=https, for=10.0.0.9`, trusted, "2001:db8::1"},
		{"ipv4-mapped peer", "[::ffff:1.2.3.4]:5", "", "", nil, "1.2.3.4"},
		{"no port", "1.2.3.4", "", "", nil, "1.2.3.4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if c.fwd != "" {
				r.Header.Set("Forwarded", c.fwd)
			}
			res := Resolver{Trusted: c.trusted}
			if got := res.IP(r); got.String() != c.want {
				t.Fatalf("IP = %v, want %v", got, c.want)
			}
		})
	}
}

// parseHopPlain is ParseHop without its shortcut past netip.ParseAddr.
func parseHopPlain(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = strings.Trim(s, "[]")
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err
}

// FuzzParseHop: ParseHop reads every hop as trying netip.ParseAddr
// first would.
func FuzzParseHop(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4:80", "[::1]:80", "[::1]", "::ffff:1.2.3.4", "::ffff:1.2.3.4:80",
		"fe80::1%eth0", "fe80::1%a.b:c", "[fe80::1%eth0]:80", "garbage", "", ":80", "1.2.3.4:", "[1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := ParseHop(s)
		want, wantErr := parseHopPlain(s)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("ParseHop(%q) = %v, %v; want %v, %v", s, got, gotErr, want, wantErr)
		}
	})
}

func TestParseHopAllocs(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:80", "2001:db8::1"} {
		if n := testing.AllocsPerRun(100, func() { ParseHop(s) }); n != 0 {
			t.Errorf("ParseHop(%q): %v allocations, want 0", s, n)
		}
	}
}
