package clientip

import (
	"net/http/httptest"
	"net/netip"
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
