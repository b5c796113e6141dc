package ring

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		members []Member
		want    error
	}{
		{"empty name", Config{}, []Member{{Name: "a"}, {Name: ""}}, ErrEmptyName},
		{"duplicate", Config{}, []Member{{Name: "a"}, {Name: "b"}, {Name: "a"}}, ErrDuplicateName},
		{"negative weight", Config{}, []Member{{Name: "a", Weight: -1}}, ErrBadWeight},
		{"NaN weight", Config{}, []Member{{Name: "a", Weight: nan()}}, ErrBadWeight},
		{"unknown algorithm", Config{Algorithm: "modulo"}, members(2), ErrUnknownAlgorithm},
		{"negative points", Config{Points: -1}, members(2), ErrBadConfig},
		{"jump weight", Config{Algorithm: Jump}, []Member{{Name: "a", Weight: 2}}, ErrBadWeight},
		{"nginx fractional weight", Config{Algorithm: Nginx}, []Member{{Name: "a:1", Weight: 1.5}}, ErrBadWeight},
		{"nginx seed", Config{Algorithm: Nginx, Seed: 1}, members(2), ErrBadConfig},
		{"nginx points", Config{Algorithm: Nginx, Points: 100}, members(2), ErrBadConfig},
		{"maglev not prime", Config{Algorithm: Maglev, TableSize: 65536}, members(2), ErrBadConfig},
		{"maglev too small", Config{Algorithm: Maglev, TableSize: 7}, members(8), ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.members)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New: got %v, want %v", err, tt.want)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestParseAlgorithm(t *testing.T) {
	for _, a := range Algorithms() {
		got, err := ParseAlgorithm(string(a))
		if err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", a, got, err)
		}
	}
	if got, _ := ParseAlgorithm("ketama-nginx"); got != Nginx {
		t.Errorf("ParseAlgorithm(ketama-nginx) = %q", got)
	}
	if got, _ := ParseAlgorithm(""); got != VirtualNodes {
		t.Errorf("ParseAlgorithm(\"\") = %q", got)
	}
}

func TestEmptyRing(t *testing.T) {
	for _, a := range Algorithms() {
		r := mustNew(t, Config{Algorithm: a}, nil)
		if got := r.Owner([]byte("k")); got != "" {
			t.Errorf("%s: Owner = %q", a, got)
		}
		if got := r.OwnerIndex([]byte("k")); got != -1 {
			t.Errorf("%s: OwnerIndex = %d", a, got)
		}
		if got := r.Owners([]byte("k"), 3, nil); len(got) != 0 {
			t.Errorf("%s: Owners = %q", a, got)
		}
		if got := r.OwnerBounded([]byte("k"), 0, nil); got != "" {
			t.Errorf("%s: OwnerBounded = %q", a, got)
		}
	}
}

func TestMembers(t *testing.T) {
	r := mustNew(t, Config{}, []Member{{Name: "b", Weight: 2}, {Name: "a"}, {Name: "c", Weight: 0.5}})
	want := []Member{{"a", 1}, {"b", 2}, {"c", 0.5}}
	if got := r.Members(); !slices.Equal(got, want) {
		t.Fatalf("Members = %v, want %v", got, want)
	}
	r.Members()[0].Name = "changed"
	if r.Name(0) != "a" {
		t.Fatal("Members returned the Ring's own slice")
	}
	if i, ok := r.Index("c"); !ok || i != 2 {
		t.Fatalf("Index(c) = %d, %v", i, ok)
	}
	if _, ok := r.Index("z"); ok {
		t.Fatal("Index(z) found")
	}
}

// TestDeterminism checks that the order of the member list does not
// matter, and that string and byte keys agree.
func TestDeterminism(t *testing.T) {
	for _, a := range Algorithms() {
		t.Run(string(a), func(t *testing.T) {
			ms := testMembers(a, 20)
			r1 := mustNew(t, Config{Algorithm: a}, ms)
			shuffled := slices.Clone(ms)
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
				shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
			})
			r2 := mustNew(t, Config{Algorithm: a}, shuffled)
			g := keyGen{seed: 7}
			var o1, o2 []string
			for i := range 10000 {
				k := g.key(i)
				o1 = r1.Owners(k, 3, o1[:0])
				o2 = r2.Owners(k, 3, o2[:0])
				if !slices.Equal(o1, o2) {
					t.Fatalf("key %x: %q vs %q after shuffling members", k, o1, o2)
				}
				if s := r2.OwnersString(string(k), 3, nil); !slices.Equal(s, o1) {
					t.Fatalf("key %x: OwnersString %q, Owners %q", k, s, o1)
				}
				if r1.Owner(k) != o1[0] || r1.OwnerString(string(k)) != o1[0] || r1.Name(r1.OwnerIndex(k)) != o1[0] {
					t.Fatalf("key %x: Owner, OwnerString, OwnerIndex and Owners disagree", k)
				}
			}
		})
	}
}

// testMembers returns n members valid for a: weighted (1, 2, 3) where the
// algorithm supports weights, host:port names for Nginx.
func testMembers(a Algorithm, n int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i].Name = fmt.Sprintf("node-%03d", i)
		if a == Nginx {
			ms[i].Name = fmt.Sprintf("10.0.0.%d:8080", i+1)
		}
		if a != Jump {
			ms[i].Weight = float64(1 + i%3)
		}
	}
	return ms
}

func TestSeed(t *testing.T) {
	for _, a := range []Algorithm{VirtualNodes, Rendezvous, Maglev, Jump} {
		r0 := mustNew(t, Config{Algorithm: a}, members(10))
		r1 := mustNew(t, Config{Algorithm: a, Seed: 1}, members(10))
		g := keyGen{}
		same := 0
		for i := range 1000 {
			if r0.Owner(g.key(i)) == r1.Owner(g.key(i)) {
				same++
			}
		}
		// Independent placements agree on about 1 key in 10.
		if same > 200 {
			t.Errorf("%s: seeds 0 and 1 agree on %d of 1000 keys", a, same)
		}
	}
}

func TestOwnersDistinctAndCapped(t *testing.T) {
	for _, a := range Algorithms() {
		t.Run(string(a), func(t *testing.T) {
			r := mustNew(t, Config{Algorithm: a}, testMembers(a, 7))
			g := keyGen{seed: 3}
			for i := range 2000 {
				k := g.key(i)
				for _, n := range []int{0, 1, 2, 3, 7, 8, 20} {
					prefix := []string{"keep"}
					got := r.Owners(k, n, prefix)
					if got[0] != "keep" {
						t.Fatal("Owners overwrote dst")
					}
					got = got[1:]
					want := min(n, 7)
					if !a.HasPreferenceList() {
						want = min(n, 1)
					}
					if len(got) != want {
						t.Fatalf("n=%d: got %d owners %q, want %d", n, len(got), got, want)
					}
					if len(got) > 0 && got[0] != r.Owner(k) {
						t.Fatalf("n=%d: first owner %q, Owner %q", n, got[0], r.Owner(k))
					}
					s := slices.Clone(got)
					slices.Sort(s)
					if len(slices.Compact(s)) != len(got) {
						t.Fatalf("n=%d: repeated owners %q", n, got)
					}
				}
			}
		})
	}
}

// TestOwnersPrefix checks that a longer preference list extends a shorter
// one, including past the on-stack buffer of Rendezvous.
func TestOwnersPrefix(t *testing.T) {
	for _, a := range []Algorithm{VirtualNodes, Nginx, Rendezvous} {
		r := mustNew(t, Config{Algorithm: a}, testMembers(a, 40))
		g := keyGen{seed: 4}
		for i := range 500 {
			k := g.key(i)
			all := r.Owners(k, 40, nil)
			for _, n := range []int{1, 3, 16, 17, 39} {
				if got := r.Owners(k, n, nil); !slices.Equal(got, all[:n]) {
					t.Fatalf("%s: Owners(%d) = %q, not a prefix of %q", a, n, got, all)
				}
			}
		}
	}
}

func TestJumpGolden(t *testing.T) {
	// Values from the reference implementation in the paper (also those
	// of github.com/dgryski/go-jump's tests).
	tests := []struct {
		key     uint64
		buckets int
		want    int
	}{
		{1, 1, 0}, {42, 57, 43}, {0xDEAD10CC, 1, 0}, {0xDEAD10CC, 666, 361},
		{256, 1024, 520},
	}
	for _, tt := range tests {
		if got := jumpHash(tt.key, tt.buckets); got != tt.want {
			t.Errorf("jumpHash(%d, %d) = %d, want %d", tt.key, tt.buckets, got, tt.want)
		}
	}
}
