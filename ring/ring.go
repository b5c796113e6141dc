// Package ring is consistent hashing: a function from a key to an ordered
// list of nodes, shared by the router and the cluster store.
package ring

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Member is one node.
type Member struct {
	Name   string
	Weight float64
}

// Config configures a Ring.
type Config struct {
	// Points per unit of weight. Default 160.
	Points int
}

// Ring is an immutable snapshot.
type Ring struct {
	points []point
	names  []string
}

type point struct {
	hash uint64
	node int
}

// New builds a ring.
func New(cfg Config, members []Member) (*Ring, error) {
	if len(members) == 0 {
		return nil, errors.New("ring: no members")
	}
	if cfg.Points <= 0 {
		cfg.Points = 160
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	r := &Ring{}
	for i, m := range ms {
		if i > 0 && ms[i-1].Name == m.Name {
			return nil, fmt.Errorf("ring: duplicate member %q", m.Name)
		}
		w := m.Weight
		if w == 0 {
			w = 1
		}
		r.names = append(r.names, m.Name)
		n := int(float64(cfg.Points) * w)
		for j := range n {
			h := sha256.Sum256(fmt.Appendf(nil, "%s-%d", m.Name, j))
			r.points = append(r.points, point{binary.BigEndian.Uint64(h[:8]), i})
		}
	}
	sort.Slice(r.points, func(i, j int) bool { return r.points[i].hash < r.points[j].hash })
	return r, nil
}

// Owners appends the first n distinct nodes for key to dst.
func (r *Ring) Owners(key []byte, n int, dst []string) []string {
	s := sha256.Sum256(key)
	h := binary.BigEndian.Uint64(s[:8])
	n = min(n, len(r.names))
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i].hash >= h })
	start := len(dst)
	for len(dst)-start < n {
		if i == len(r.points) {
			i = 0
		}
		name := r.names[r.points[i].node]
		if !slices.Contains(dst[start:], name) {
			dst = append(dst, name)
		}
		i++
	}
	return dst
}
