// Package bench compares sessionkit's ring with other Go consistent
// hashing libraries. It is a separate module so that the main module does
// not depend on them.
package bench

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
	stathat "github.com/stathat/consistent"

	"github.com/sessionkit/sessionkit/ring"
)

// keys are the lookup keys of every implementation: 32-byte SHA-256
// hashes, as sessionkit places tokens, cycled through.
var keys, stringKeys = func() ([][]byte, []string) {
	ks := make([][]byte, 4096)
	ss := make([]string, len(ks))
	for i := range ks {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		ks[i], ss[i] = sum[:], string(sum[:])
	}
	return ks, ss
}()

const keyMask = 4095

var sink string

// measure runs lookup b.N times and reports, besides ns/op, the thread's
// CPU time per operation (cpu-ns/op), which stays meaningful when other
// work shares the machine.
func measure(b *testing.B, lookup func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start, ok := threadCPU()
	for i := 0; b.Loop(); i++ {
		lookup(i & keyMask)
	}
	if end, ok2 := threadCPU(); ok && ok2 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

type member string

func (m member) String() string { return string(m) }

type xxhasher struct{}

func (xxhasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// buraksezerConfig follows the library's README: a prime partition count,
// 20 replicas, load bound 1.25, and XXH64 as in our ring.
var buraksezerConfig = consistent.Config{
	PartitionCount:    7919,
	ReplicationFactor: 20,
	Load:              1.25,
	Hasher:            xxhasher{},
}

func names(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250+1)
	}
	return s
}

func newRing(tb testing.TB, algo ring.Algorithm, n int, weighted bool) *ring.Ring {
	ms := make([]ring.Member, n)
	for i, name := range names(n) {
		ms[i] = ring.Member{Name: name}
		if weighted {
			ms[i].Weight = float64(1 + i%3)
		}
	}
	r, err := ring.New(ring.Config{Algorithm: algo}, ms)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func newBuraksezer(n int) *consistent.Consistent {
	ms := make([]consistent.Member, n)
	for i, name := range names(n) {
		ms[i] = member(name)
	}
	return consistent.New(ms, buraksezerConfig)
}

func newStathat(n int) *stathat.Consistent {
	c := stathat.New()
	c.Set(names(n))
	return c
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, impl := range []struct {
			name     string
			algo     ring.Algorithm
			weighted bool
		}{
			{"ring", ring.VirtualNodes, false},
			{"nginx", ring.Nginx, false},
			{"rendezvous", ring.Rendezvous, false},
			{"rendezvous-weighted", ring.Rendezvous, true},
			{"maglev", ring.Maglev, false},
			{"jump", ring.Jump, false},
		} {
			b.Run(fmt.Sprintf("%s-N%d", impl.name, n), func(b *testing.B) {
				r := newRing(b, impl.algo, n, impl.weighted)
				measure(b, func(i int) { sink = r.Owner(keys[i]) })
			})
		}
		b.Run(fmt.Sprintf("buraksezer-N%d", n), func(b *testing.B) {
			c := newBuraksezer(n)
			measure(b, func(i int) { sink = c.LocateKey(keys[i]).String() })
		})
		b.Run(fmt.Sprintf("stathat-N%d", n), func(b *testing.B) {
			c := newStathat(n)
			measure(b, func(i int) { sink, _ = c.Get(stringKeys[i]) })
		})
	}
}

// BenchmarkOwners measures a preference list of three, the owner and two
// backups, at 100 members.
func BenchmarkOwners(b *testing.B) {
	for _, algo := range []ring.Algorithm{ring.VirtualNodes, ring.Rendezvous} {
		b.Run(fmt.Sprintf("%s-N100", algo), func(b *testing.B) {
			r := newRing(b, algo, 100, false)
			dst := make([]string, 0, 3)
			measure(b, func(i int) { dst = r.Owners(keys[i], 3, dst[:0]) })
		})
	}
}

// TestBalance reports each implementation's largest share of keys over
// the mean share at 10 and 100 members: exact for buraksezer (its
// partitions), sampled over 1M keys for the others.
func TestBalance(t *testing.T) {
	sample := func(n int, owner func(k []byte) string) float64 {
		counts := map[string]int{}
		const total = 1_000_000
		var buf [32]byte
		for i := range total {
			buf = sha256.Sum256(strconv.AppendInt(buf[:0], int64(i), 10))
			counts[owner(buf[:])]++
		}
		return float64(slices.Max(mapValues(counts))) / (total / float64(n))
	}
	for _, n := range []int{10, 100} {
		for _, algo := range []ring.Algorithm{ring.VirtualNodes, ring.Nginx, ring.Rendezvous, ring.Maglev, ring.Jump} {
			r := newRing(t, algo, n, false)
			t.Logf("N=%d %-10s max/mean %.3f (sampled)", n, algo, sample(n, r.Owner))
		}
		c := newBuraksezer(n)
		loads := c.LoadDistribution()
		t.Logf("N=%d buraksezer max/mean %.3f (partitions; load bound %.2f)", n,
			slices.Max(mapValues(loads))/(float64(buraksezerConfig.PartitionCount)/float64(n)), buraksezerConfig.Load)
		s := newStathat(n)
		t.Logf("N=%d stathat    max/mean %.3f (sampled)", n, sample(n, func(k []byte) string {
			o, _ := s.Get(string(k))
			return o
		}))
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	vs := make([]V, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
