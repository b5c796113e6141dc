package sessionkit

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// TestPendingAgreesWithMap: the values a request set, kept in a scanned
// list and indexed once long, read as a map of them would, through puts
// and deletes that cross the index's threshold both ways.
func TestPendingAgreesWithMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var p pending
		want := map[string][]byte{}
		keys := 1 + r.IntN(3*indexFrom)
		for op := range 300 {
			k := fmt.Sprint("k", r.IntN(keys))
			if r.IntN(3) == 0 {
				p.del(k)
				delete(want, k)
			} else {
				v := []byte(fmt.Sprint(round, op))
				p.put(k, v)
				want[k] = v
			}
			if p.len() != len(want) {
				t.Fatalf("round %d op %d: %d entries, want %d", round, op, p.len(), len(want))
			}
			got := entryMap(p.list)
			if got == nil {
				got = map[string][]byte{}
			}
			if !maps.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
				t.Fatalf("round %d op %d: %q, want %q", round, op, got, want)
			}
			for i := range keys {
				k := fmt.Sprint("k", i)
				b, ok := p.get(k)
				w, wok := want[k]
				if ok != wok || string(b) != string(w) {
					t.Fatalf("round %d op %d: get(%s) = %q %v, want %q %v", round, op, k, b, ok, w, wok)
				}
			}
			if p.size() != mapSize(want) {
				t.Fatalf("round %d op %d: size %d, want %d", round, op, p.size(), mapSize(want))
			}
		}
	}
}
