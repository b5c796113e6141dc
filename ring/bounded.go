package ring

import "math"

// OwnerBounded returns the member that should take a new key when no
// member may hold more than c times the mean load: consistent hashing with
// bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2018). loads[i] is the
// current load of member i, in Members order (entries past the end count
// as 0); c below 1 counts as DefaultLoadFactor. With S the sum of loads,
// a member of weight w out of a total weight W is eligible while
// loads[i]+1 <= ceil(c*(S+1)*w/W), which is ceil(c*(S+1)/N) for N equal
// weights and always leaves one eligible; the first eligible member in
// key's preference list wins. Maglev and Jump, which have no preference list,
// try the next table entry or the next bucket instead. Returns "" when
// the Ring has no members.
//
// Do not use it to place sessions or replicas: its answer depends on the
// loads one process sees at one moment, so another router, or the same
// one a moment later, may pick a different member for the same key. It
// suits choosing where new, unplaced work goes, for example the node that
// mints a new session.
func (r *Ring) OwnerBounded(key []byte, c float64, loads []int) string {
	if len(r.names) == 0 {
		return ""
	}
	return r.names[r.bounded(r.keyHash(key), c, loads)]
}

// OwnerBoundedString is OwnerBounded for a string key.
func (r *Ring) OwnerBoundedString(key string, c float64, loads []int) string {
	if len(r.names) == 0 {
		return ""
	}
	return r.names[r.bounded(r.keyHashString(key), c, loads)]
}

func (r *Ring) bounded(h uint64, c float64, loads []int) int {
	if c < 1 || math.IsNaN(c) {
		c = DefaultLoadFactor
	}
	n := len(r.names)
	sum := 0
	for _, l := range loads[:min(len(loads), n)] {
		sum += l
	}
	perWeight := c * float64(sum+1) / r.totalWeight
	ok := func(i int) bool {
		l := 0
		if i < len(loads) {
			l = loads[i]
		}
		return float64(l+1) <= math.Ceil(perWeight*r.members[i].Weight)
	}
	switch r.kind {
	case kindPoints:
		p := r.pointAt(h)
		for range len(r.points) {
			if i := int(r.points[p].owner); ok(i) {
				return i
			}
			if p++; p == len(r.points) {
				p = 0
			}
		}
	case kindRendezvous:
		var best candidate
		found := false
		for _, cl := range r.classes {
			cb, seen := candidate{idx: math.MaxUint32}, false
			for _, i := range r.order[cl.start:cl.end] {
				if !ok(int(i)) {
					continue
				}
				s := mix64(h ^ r.nodeHash[i])
				if !seen || s > cb.raw || (s == cb.raw && i < cb.idx) {
					cb.raw, cb.idx, seen = s, i, true
				}
			}
			if !seen {
				continue
			}
			cb.weighted = weightedScore(cl.weight, cb.raw)
			if !found || cb.better(best) {
				best, found = cb, true
			}
		}
		if r.classes == nil {
			for i, nh := range r.nodeHash {
				if !ok(i) {
					continue
				}
				cand := candidate{raw: mix64(h ^ nh), idx: uint32(i)}
				if !found || cand.better(best) {
					best, found = cand, true
				}
			}
		}
		if found {
			return int(best.idx)
		}
	case kindMaglev:
		s := r.maglevSlot(h)
		for range len(r.table) {
			if i := int(r.table[s]); ok(i) {
				return i
			}
			if s++; s == len(r.table) {
				s = 0
			}
		}
	default:
		b := jumpHash(h, n)
		for range n {
			if ok(b) {
				return b
			}
			if b++; b == n {
				b = 0
			}
		}
	}
	return r.lookup(h)
}
