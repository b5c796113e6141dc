// Package routing holds the rules that the transport, placement and the
// router must apply alike, or a router would send a session's requests to
// a node that does not hold it: the routing key of a token, and the names
// of the cookies a long token is split over.
package routing

import (
	"crypto/sha256"
	"strconv"
)

// Key returns the routing key of a session token: its SHA-256, the key
// that routers and nodes look up on the ring. It is the same hash a server
// store files the session's record under.
func Key[S ~string | ~[]byte](token S) [sha256.Size]byte {
	if len(token) <= 64 {
		// Tokens are short: hash from the stack, not a heap copy.
		var buf [64]byte
		return sha256.Sum256(buf[:copy(buf[:], token)])
	}
	return sha256.Sum256([]byte(token))
}

// Cookie name prefixes, tried in this order by a reader that does not know
// the transport's configuration: "__Host-" (no Domain), "__Secure-" (with a
// Domain), none (an insecure cookie).
const (
	HostPrefix   = "__Host-"
	SecurePrefix = "__Secure-"
)

// Prefixes lists the cookie name prefixes in the order a reader tries them.
var Prefixes = [...]string{HostPrefix, SecurePrefix, ""}

// DefaultChunks is how many cookies a token may be split over when the
// transport's configuration does not say (sessionkit.CookieTransport's
// MaxChunks); a reader that does not know the configuration reads that many.
const DefaultChunks = 2

// MaxChunk is the highest chunk index a name may carry.
const MaxChunk = 99

// ChunkName returns the cookie name of chunk i of a token carried in the
// cookie name: name itself for chunk 0, then "name.1", "name.2", ...
func ChunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "." + strconv.Itoa(i)
}

// ChunkIndex parses what follows the cookie name in a chunk cookie's name:
// "" is chunk 0, ".N" chunk N (1 to MaxChunk, no leading zero); anything
// else is -1.
func ChunkIndex[S ~string | ~[]byte](suffix S) int {
	if len(suffix) == 0 {
		return 0
	}
	if len(suffix) < 2 || len(suffix) > 3 || suffix[0] != '.' || suffix[1] == '0' {
		return -1
	}
	n := 0
	for i := 1; i < len(suffix); i++ {
		c := suffix[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
