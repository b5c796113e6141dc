package ring

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// members returns n unweighted members named node-000, node-001, ...
func members(n int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{Name: fmt.Sprintf("node-%03d", i)}
	}
	return ms
}

// keyGen yields deterministic 32-byte keys, like the SHA-256 token hashes
// sessionkit places.
type keyGen struct {
	seed uint64
	buf  [32]byte
}

func (g *keyGen) key(i int) []byte {
	x := g.seed*0x9e3779b97f4a7c15 + uint64(i)*4
	for w := range 4 {
		binary.LittleEndian.PutUint64(g.buf[8*w:], mix64(x+uint64(w)))
	}
	return g.buf[:]
}

// sampleSize returns n, or n/div under the race detector.
func sampleSize(n, div int) int {
	if raceEnabled {
		return n / div
	}
	return n
}

func mustNew(t testing.TB, cfg Config, ms []Member) *Ring {
	t.Helper()
	r, err := New(cfg, ms)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return r
}

// preferenceAlgorithms are those with a preference list.
var preferenceAlgorithms = []Algorithm{VirtualNodes, Rendezvous}
