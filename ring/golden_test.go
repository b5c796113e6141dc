package ring

import (
	"crypto/sha256"
	"slices"
	"testing"
)

// goldenMembers is the member list of the golden vectors: weighted where
// the algorithm allows it.
func goldenMembers(a Algorithm) []Member {
	switch a {
	case Nginx:
		return []Member{{Name: "10.0.0.1:8080"}, {Name: "10.0.0.2:8080", Weight: 2}, {Name: "10.0.0.3:8080"}, {Name: "backend.internal"}, {Name: "unix:/run/app.sock"}}
	case Jump:
		return []Member{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}
	}
	return []Member{{Name: "a"}, {Name: "b", Weight: 2}, {Name: "c"}, {Name: "d", Weight: 0.5}, {Name: "e"}}
}

// TestGolden pins the placement of a few keys. A failure means every
// deployed ring would move keys on upgrade: change these only on purpose.
// The Nginx vectors are checked against a real nginx by TestNginxCompatible.
func TestGolden(t *testing.T) {
	sum := sha256.Sum256([]byte("token-1"))
	tokenHash := string(sum[:]) // what sessionkit passes for a token
	tests := []struct {
		algo Algorithm
		seed uint64
		key  string
		want []string
	}{
		{VirtualNodes, 0, "", []string{"b", "c", "e"}},
		{VirtualNodes, 0, "a", []string{"e", "c", "b"}},
		{VirtualNodes, 0, "session-42", []string{"b", "c", "e"}},
		{VirtualNodes, 0, tokenHash, []string{"b", "a", "c"}},
		{VirtualNodes, 7, "", []string{"e", "c", "b"}},
		{VirtualNodes, 7, "a", []string{"d", "e", "a"}},
		{VirtualNodes, 7, "session-42", []string{"b", "d", "c"}},
		{VirtualNodes, 7, tokenHash, []string{"b", "d", "c"}},
		{Nginx, 0, "", []string{"10.0.0.2:8080", "backend.internal", "10.0.0.3:8080"}},
		{Nginx, 0, "a", []string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"}},
		{Nginx, 0, "session-42", []string{"backend.internal", "unix:/run/app.sock", "10.0.0.3:8080"}},
		{Nginx, 0, tokenHash, []string{"backend.internal", "10.0.0.2:8080", "10.0.0.1:8080"}},
		{Rendezvous, 0, "", []string{"c", "e", "b"}},
		{Rendezvous, 0, "a", []string{"e", "d", "c"}},
		{Rendezvous, 0, "session-42", []string{"b", "a", "d"}},
		{Rendezvous, 0, tokenHash, []string{"b", "e", "a"}},
		{Rendezvous, 7, "", []string{"b", "e", "c"}},
		{Rendezvous, 7, "a", []string{"b", "c", "e"}},
		{Rendezvous, 7, "session-42", []string{"d", "b", "e"}},
		{Rendezvous, 7, tokenHash, []string{"c", "b", "a"}},
		{Maglev, 0, "", []string{"b"}},
		{Maglev, 0, "a", []string{"a"}},
		{Maglev, 0, "session-42", []string{"c"}},
		{Maglev, 0, tokenHash, []string{"e"}},
		{Maglev, 7, "", []string{"e"}},
		{Maglev, 7, "a", []string{"b"}},
		{Maglev, 7, "session-42", []string{"a"}},
		{Maglev, 7, tokenHash, []string{"c"}},
		{Jump, 0, "", []string{"c"}},
		{Jump, 0, "a", []string{"b"}},
		{Jump, 0, "session-42", []string{"e"}},
		{Jump, 0, tokenHash, []string{"a"}},
		{Jump, 7, "", []string{"e"}},
		{Jump, 7, "a", []string{"b"}},
		{Jump, 7, "session-42", []string{"d"}},
		{Jump, 7, tokenHash, []string{"e"}},
	}
	for _, tt := range tests {
		r := mustNew(t, Config{Algorithm: tt.algo, Seed: tt.seed}, goldenMembers(tt.algo))
		if got := r.OwnersString(tt.key, 3, nil); !slices.Equal(got, tt.want) {
			t.Errorf("%s seed %d key %q: Owners = %q, want %q", tt.algo, tt.seed, tt.key, got, tt.want)
		}
	}
}
