// Package clientip finds a request's client address, honouring
// X-Forwarded-For and Forwarded only from trusted proxies.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. Its zero value trusts no proxy: the
// client is the connection's peer, whatever headers it sends.
type Resolver struct {
	// Trusted lists the proxies whose forwarding headers are believed.
	Trusted []netip.Prefix
}

// Trusts reports whether a is a trusted proxy: whether the forwarding
// headers it sends are believed. It is the one trusted-proxy check.
func (c *Resolver) Trusts(a netip.Addr) bool {
	for _, p := range c.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IP returns the client address of r. It starts at the connection's peer
// and, while that hop is a trusted proxy, steps one hop left through the
// forwarding headers (Forwarded if present, else X-Forwarded-For), so a
// client can never choose its own address by sending a header. The zero
// Addr means r.RemoteAddr was not an address (a test request, a Unix
// socket).
func (c *Resolver) IP(r *http.Request) netip.Addr {
	w := c.Walk(Peer(r))
	if !w.More() {
		return w.Client()
	}
	hops := forwarded(r)
	for i := len(hops) - 1; i >= 0 && w.More(); i-- {
		w.Hop(hops[i])
	}
	return w.Client()
}

// Walk finds a client address one forwarding hop at a time, from the
// connection's peer leftwards. It is the one rule for stepping through
// the hops: IP follows it over a request's headers, the router's fast
// path over a raw head, without allocating.
type Walk struct {
	c      *Resolver
	client netip.Addr
	more   bool
}

// Walk starts a walk at the connection's peer. It wants hops only while
// the address it stands on is a trusted proxy.
func (c *Resolver) Walk(peer netip.Addr) Walk {
	return Walk{c: c, client: peer, more: peer.IsValid() && c.Trusts(peer)}
}

// More reports whether the walk wants the next hop to the left.
func (w *Walk) More() bool { return w.more }

// Hop takes the next hop to the left, as a forwarding header wrote it.
// An untrusted hop is the client and ends the walk; a malformed one ends
// it too, at the last good address: nothing left of it is believed.
func (w *Walk) Hop(hop string) {
	a, err := ParseHop(hop)
	if err != nil {
		w.more = false
		return
	}
	w.client, w.more = a, w.c.Trusts(a)
}

// Client returns the address the walk stands on: once More is false, the
// client's.
func (w *Walk) Client() netip.Addr { return w.client }

// Peer returns the address of the connection's peer.
func Peer(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap()
}

// forwarded returns the hops the proxies recorded, left (client) to right.
func forwarded(r *http.Request) []string {
	var hops []string
	if fw := r.Header.Values("Forwarded"); len(fw) > 0 {
		for _, line := range fw {
			for elem := range strings.SplitSeq(line, ",") {
				hop := ""
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
					if strings.EqualFold(k, "for") {
						hop = strings.Trim(v, `"`)
					}
				}
				hops = append(hops, hop)
			}
		}
		return hops
	}
	for _, line := range r.Header.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// ParseHop parses one hop of a forwarding header: an address, with or
// without a port ("1.2.3.4:80", "[::1]:80") or brackets. It is the one
// reading of a hop, for IP and for readers of raw request heads.
func ParseHop(s string) (netip.Addr, error) {
	if !withPort(s) { // else ParseAddr fails, and its error allocates
		if a, err := netip.ParseAddr(s); err == nil {
			return a.Unmap(), nil
		}
	}
	host, _, err := net.SplitHostPort(s) // "1.2.3.4:80", "[::1]:80"
	if err != nil {
		host = strings.Trim(s, "[]")
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err
}

// withPort reports whether s cannot be a bare address: it is bracketed,
// or has a colon after its last dot, which an IPv6 address can only have
// in its zone.
func withPort(s string) bool {
	if strings.HasPrefix(s, "[") {
		return true
	}
	dot, colon := strings.LastIndexByte(s, '.'), strings.LastIndexByte(s, ':')
	return dot >= 0 && colon > dot && !strings.Contains(s, "%")
}
