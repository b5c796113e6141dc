package clientip

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// TestLimiterIPv6By64: the addresses of one IPv6 /64 share a bucket, so a
// client cannot walk around the limit by taking new addresses in its
// /64; another /64 and IPv4 addresses have buckets of their own.
func TestLimiterIPv6By64(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLimiter(0.001, 3, 0)
	for i := range 3 {
		a := netip.MustParseAddr("2001:db8:1:2::1").As16()
		a[15] = byte(i + 1)
		a[8] = byte(i * 17) // another interface ID in the same /64
		if !l.Allow(netip.AddrFrom16(a), now) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	for _, s := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:1234::99"} {
		if l.Allow(netip.MustParseAddr(s), now) {
			t.Errorf("%s, in the exhausted /64, allowed", s)
		}
	}
	for _, s := range []string{"2001:db8:1:3::1", "192.0.2.1", "192.0.2.2"} {
		if !l.Allow(netip.MustParseAddr(s), now) {
			t.Errorf("%s, in a bucket of its own, refused", s)
		}
	}
	// IPv4-mapped IPv6 is its IPv4 address, not the ::ffff:0:0/64.
	if Bucket(netip.MustParseAddr("::ffff:192.0.2.1")) != netip.MustParseAddr("192.0.2.1") {
		t.Error("an IPv4-mapped address is not bucketed as IPv4")
	}
}

// TestLimiterBounded: a million distinct clients, all still active (none
// has refilled its bucket), leave the limiter no larger than its bound.
func TestLimiterBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const bound = 10_000
	l := NewLimiter(0.001, 2, bound)
	var a [16]byte
	a[0], a[1] = 0x20, 0x01
	for i := range 1_000_000 {
		binary.BigEndian.PutUint32(a[4:8], uint32(i)) // a new /64 each time
		var ip netip.Addr
		if i%2 == 0 {
			ip = netip.AddrFrom16(a)
		} else {
			ip = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		l.Allow(ip, now.Add(time.Duration(i)*time.Microsecond))
		if n := l.Len(); n > bound {
			t.Fatalf("after %d clients the limiter holds %d buckets, over its bound of %d", i+1, n, bound)
		}
	}
	if n := l.Len(); n != bound {
		t.Fatalf("the limiter holds %d buckets, want its bound %d (all clients are active)", n, bound)
	}
}

// TestLimiterForgetsRefilled: once their buckets have refilled, clients
// are forgotten at the next sweep.
func TestLimiterForgetsRefilled(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLimiter(1, 1, 0)
	for i := range 100 {
		l.Allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), now)
	}
	l.Allow(netip.MustParseAddr("198.51.100.1"), now.Add(2*time.Minute))
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
}

// TestLimiterFullKeepsLimits: a flood of new addresses that fills the
// table neither hands a limited client a fresh burst nor gets more than
// one client's burst between them.
func TestLimiterFullKeepsLimits(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const bound, burst = 100, 3
	l := NewLimiter(0.001, burst, bound)
	first := netip.MustParseAddr("192.0.2.1")
	for range burst {
		if !l.Allow(first, now) {
			t.Fatal("a new client's burst was refused")
		}
	}
	allowed := 0
	for i := range 10_000 {
		if l.Allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now) {
			allowed++
		}
	}
	if want := (bound-1)*burst + burst; allowed > want {
		t.Fatalf("10,000 new addresses got %d creations; want at most %d (%d buckets and one overflow bucket)", allowed, want, bound-1)
	}
	if l.Allow(first, now) {
		t.Fatal("a client that spent its burst was allowed again once the table filled")
	}
}
