package ring_test

import (
	"crypto/sha256"
	"fmt"
	"sync/atomic"

	"github.com/sessionkit/sessionkit/ring"
)

func Example() {
	r, err := ring.New(ring.Config{}, []ring.Member{
		{Name: "10.0.0.1:8080"},
		{Name: "10.0.0.2:8080"},
		{Name: "10.0.0.3:8080", Weight: 2},
	})
	if err != nil {
		panic(err)
	}
	// sessionkit places a session by the SHA-256 of its token.
	key := sha256.Sum256([]byte("token-1"))
	fmt.Println(r.Owner(key[:]))
	// The owner and one backup: if the owner leaves, the backup owns the key.
	fmt.Println(r.Owners(key[:], 2, nil))
	// Output:
	// 10.0.0.3:8080
	// [10.0.0.3:8080 10.0.0.2:8080]
}

// Readers load the current snapshot; a membership change stores a new one.
func Example_swap() {
	var current atomic.Pointer[ring.Ring]
	update := func(names ...string) {
		ms := make([]ring.Member, len(names))
		for i, n := range names {
			ms[i] = ring.Member{Name: n}
		}
		r, err := ring.New(ring.Config{Algorithm: ring.Rendezvous}, ms)
		if err != nil {
			panic(err)
		}
		current.Store(r)
	}

	update("a", "b", "c")
	before := current.Load().Owners([]byte("cart:42"), 2, nil)
	update("a", "c", "b", "d") // order does not matter
	update("a", "b", "c")      // d left again: same answers
	after := current.Load().Owners([]byte("cart:42"), 2, nil)
	fmt.Println(before, after)

	update("a", "c") // the owner leaves: its second choice takes over
	fmt.Println(current.Load().OwnerString("cart:42"))
	// Output:
	// [b c] [b c]
	// c
}

// An nginx upstream with "hash $arg_session consistent" sends a request to
// the member Owner names for the same key.
func ExampleNginx() {
	r, err := ring.New(ring.Config{Algorithm: ring.Nginx}, []ring.Member{
		{Name: "127.0.0.1:8081"},
		{Name: "127.0.0.1:8082", Weight: 2},
		{Name: "127.0.0.1:8083"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.OwnerString("abc"))
	// Output:
	// 127.0.0.1:8082
}

func ExampleRing_OwnerBounded() {
	r, err := ring.New(ring.Config{}, []ring.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}})
	if err != nil {
		panic(err)
	}
	key := []byte("new-session")
	owner := r.Owner(key)
	loads := make([]int, r.Len()) // in Members order
	i, _ := r.Index(owner)
	loads[i] = 10 // the owner is busy; the others are idle
	fmt.Println(owner, "->", r.OwnerBounded(key, 1.25, loads))
	// Output:
	// b -> a
}
