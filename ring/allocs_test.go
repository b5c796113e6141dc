//go:build !race

// The race detector allocates: these run in the pass without it.

package ring

import "testing"

func TestZeroAllocs(t *testing.T) {
	for _, a := range Algorithms() {
		for _, weighted := range []bool{false, true} {
			ms := members(100)
			if weighted && a != Jump {
				ms = testMembers(a, 100)
			}
			if a == Nginx && !weighted {
				continue
			}
			r := mustNew(t, Config{Algorithm: a}, ms)
			key := []byte("0123456789abcdef0123456789abcdef")
			skey := string(key)
			dst := make([]string, 0, 16)
			loads := make([]int, 100)
			checks := map[string]func(){
				"Owner":              func() { _ = r.Owner(key) },
				"OwnerString":        func() { _ = r.OwnerString(skey) },
				"OwnerIndex":         func() { _ = r.OwnerIndex(key) },
				"Owners":             func() { dst = r.Owners(key, 3, dst[:0]) },
				"Owners16":           func() { dst = r.Owners(key, 16, dst[:0]) },
				"OwnersString":       func() { dst = r.OwnersString(skey, 3, dst[:0]) },
				"OwnerBounded":       func() { _ = r.OwnerBounded(key, 1.25, loads) },
				"OwnerBoundedString": func() { _ = r.OwnerBoundedString(skey, 1.25, loads) },
			}
			for name, f := range checks {
				if allocs := testing.AllocsPerRun(100, f); allocs != 0 {
					t.Errorf("%s weighted=%v: %s allocates %v times", a, weighted, name, allocs)
				}
			}
		}
	}
}
