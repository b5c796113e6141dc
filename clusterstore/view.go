package clusterstore

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math"
	"slices"

	"github.com/sessionkit/sessionkit/clusterstore/gossip"
	"github.com/sessionkit/sessionkit/ring"
)

// Views. Gossip gives every node its own view of the members, applied in
// its own order, so no counter kept by one node means anything to
// another. A node's view is therefore kept as a vector: for each storing
// member, the newest state heard of it, where a later boot beats an
// earlier one, then a higher epoch (a member raises its own epoch when it
// drains or refutes its death), then dead beats alive. Two vectors merge
// member by member, keeping the newer entry: merging is commutative and
// idempotent, so two nodes that exchange their vectors hold the same view,
// and the same digest, whatever order they heard things in.

// ventry is what a view holds of one member; gossip.State.Newer orders
// its states.
type ventry = gossip.State

// vector is a view: member name -> newest state. Vectors are never
// modified once shared: merge returns a new one.
type vector map[string]ventry

// merge returns v with o's newer entries, and whether anything changed.
func (v vector) merge(o vector) (vector, bool) {
	var out vector
	for name, e := range o {
		if cur, ok := v[name]; ok && !e.Newer(cur) {
			continue
		}
		if out == nil {
			out = maps.Clone(v)
			if out == nil {
				out = vector{}
			}
		}
		out[name] = e
	}
	if out == nil {
		return v, false
	}
	return out, true
}

// digest identifies the view: equal digests, equal views.
func (v vector) digest() string {
	names := slices.Sorted(maps.Keys(v))
	h := sha256.New()
	var b []byte
	for _, name := range names {
		e := v[name]
		b = encoder(b[:0]).string(name).varint(e.Boot).uvarint(e.Epoch).flag(e.Dead)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (v vector) encode(e encoder) encoder {
	e = e.uvarint(uint64(len(v)))
	for name, m := range v {
		e = e.string(name).string(m.Role).string(m.Data).string(m.HTTP).uvarint(math.Float64bits(m.Weight)).varint(m.Boot).uvarint(m.Epoch).flag(m.Draining).flag(m.Dead)
	}
	return e
}

func decodeVector(d *decoder) vector {
	n := d.count()
	if d.Err() != nil {
		return nil
	}
	v := make(vector, n)
	for range n {
		var e ventry
		e.Name = d.string()
		e.Role, e.Data, e.HTTP = d.string(), d.string(), d.string()
		e.Weight = math.Float64frombits(d.uvarint())
		e.Boot, e.Epoch, e.Draining, e.Dead = d.Varint(), d.uvarint(), d.flag(), d.flag()
		if !(e.Weight >= 0 && e.Weight <= math.MaxFloat32) { // not NaN, not infinite
			d.Fail("member weight out of range")
		}
		if d.Err() != nil {
			return nil
		}
		v[e.Name] = e
	}
	return v
}

// view is one membership snapshot: the vector, its digest, the live
// storing nodes and the ring that places sessions on them.
type view struct {
	vec    vector
	digest string
	nodes  map[string]Member // alive, draining ones included
	ring   *ring.Ring        // alive and not draining; nil when none
}

func newView(vec vector, rc ring.Config) (*view, error) {
	v := &view{vec: vec, digest: vec.digest(), nodes: map[string]Member{}}
	var rm []ring.Member
	for name, e := range vec {
		if e.Dead || e.Role != gossip.RoleNode {
			continue
		}
		v.nodes[name] = e.Member
		if !e.Draining {
			rm = append(rm, ring.Member{Name: name, Weight: e.Weight})
		}
	}
	if len(rm) > 0 {
		r, err := ring.New(rc, rm)
		if err != nil {
			return nil, err
		}
		v.ring = r
	}
	return v, nil
}

// owners returns the key's first n nodes, its owner first.
func (v *view) owners(h [32]byte, n int) []string {
	if v.ring == nil {
		return nil
	}
	n = min(n, v.ring.Len())
	return v.ring.Owners(h[:], n, make([]string, 0, n))
}

// holders returns every live node, the key's preference order first and
// then the draining ones: where a copy of the key may be.
func (v *view) holders(h [32]byte) []string {
	out := v.owners(h, len(v.nodes))
	for name := range v.nodes {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
