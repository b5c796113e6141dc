package clientip

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxClients is the number of clients a Limiter keeps a bucket
// for when NewLimiter is given none: about 20 MB at most.
const DefaultMaxClients = 100_000

// Limiter is a token bucket per client network, for limits such as
// session creation. A client is an IPv4 address or the /64 of an IPv6
// address, since one IPv6 host commonly holds a whole /64 and would
// otherwise get a fresh bucket for every address it takes. Its memory is
// bounded: it keeps at most max buckets and forgets those that have
// refilled. While it is full of active clients, every client it has no
// bucket for shares one overflow bucket: a flood of new addresses gets
// one client's allowance between them, and no client it already limits
// is forgotten and handed a fresh burst. Its methods are safe for
// concurrent use.
type Limiter struct {
	rate  rate.Limit
	burst int
	max   int

	mu       sync.Mutex
	clients  map[netip.Addr]*rate.Limiter
	overflow *rate.Limiter // shared by the clients that found the table full
	swept    time.Time     // the last full sweep
}

// NewLimiter returns a Limiter that lets each client do perSecond
// operations a second on average and burst at once (at least 1), and
// keeps at most maxClients buckets (DefaultMaxClients when 0 or less).
func NewLimiter(perSecond float64, burst, maxClients int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	if maxClients <= 0 {
		maxClients = DefaultMaxClients
	}
	return &Limiter{
		rate: rate.Limit(perSecond), burst: burst, max: maxClients,
		clients:  map[netip.Addr]*rate.Limiter{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// Bucket returns the network a's bucket is kept under: a itself for
// IPv4, its /64 for IPv6 (IPv4-mapped IPv6 counts as IPv4). The zero
// Addr, a request with no address, is a bucket of its own.
func Bucket(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if !a.Is6() {
		return a
	}
	p, _ := a.Prefix(64) // never fails for a valid IPv6 address
	return p.Addr()
}

// Allow reports whether the client at a may act at now, and takes a
// token from its bucket if so.
func (l *Limiter) Allow(a netip.Addr, now time.Time) bool {
	key := Bucket(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	// Forget clients whose bucket has refilled: once a minute, or at
	// once when the table is full (at most once a second: a sweep
	// walks every bucket).
	full := len(l.clients) >= l.max
	if now.Sub(l.swept) > time.Minute || full && now.Sub(l.swept) > time.Second {
		for k, lim := range l.clients {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	lim := l.clients[key]
	switch {
	case lim != nil:
	case len(l.clients) >= l.max:
		lim = l.overflow // full of active clients
	default:
		lim = rate.NewLimiter(l.rate, l.burst)
		l.clients[key] = lim
	}
	return lim.AllowN(now, 1)
}

// Len returns the number of buckets the Limiter keeps.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
