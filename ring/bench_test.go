package ring

import (
	"fmt"
	"testing"
)

// Comparisons with other libraries live in the bench module; these track
// this package alone.

func BenchmarkOwner(b *testing.B) {
	for _, a := range Algorithms() {
		for _, n := range []int{10, 100} {
			b.Run(fmt.Sprintf("%s-N%d", a, n), func(b *testing.B) {
				r := mustNew(b, Config{Algorithm: a}, testMembers(a, n))
				if a == Jump {
					r = mustNew(b, Config{Algorithm: a}, members(n))
				}
				g := keyGen{seed: 1}
				keys := make([][]byte, 4096)
				for i := range keys {
					keys[i] = append([]byte(nil), g.key(i)...)
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					_ = r.Owner(keys[i&4095])
				}
			})
		}
	}
}

func BenchmarkNew(b *testing.B) {
	for _, a := range Algorithms() {
		b.Run(fmt.Sprintf("%s-N100", a), func(b *testing.B) {
			ms := testMembers(a, 100)
			if a == Jump {
				ms = members(100)
			}
			for b.Loop() {
				mustNew(b, Config{Algorithm: a}, ms)
			}
		})
	}
}
