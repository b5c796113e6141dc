package ring

import (
	"cmp"
	"math"
	"slices"
	"sync"
)

func (r *Ring) buildRendezvous(seed uint64) {
	r.nodeHash = make([]uint64, len(r.members))
	for i, m := range r.members {
		r.nodeHash[i] = nameHash(seed, domainRendezvous, m.Name, 0)
	}
	r.order = make([]uint32, len(r.members))
	for i := range r.order {
		r.order[i] = uint32(i)
	}
	slices.SortStableFunc(r.order, func(a, b uint32) int {
		return cmp.Compare(r.members[a].Weight, r.members[b].Weight)
	})
	for i := 0; i < len(r.order); {
		w := r.members[r.order[i]].Weight
		j := i
		for j < len(r.order) && r.members[r.order[j]].Weight == w {
			j++
		}
		r.classes = append(r.classes, weightClass{weight: w, start: i, end: j})
		i = j
	}
	if len(r.classes) <= 1 {
		r.classes = nil // equal weights: compare raw scores, no logarithms
		return
	}
	// Node hashes in class order, so each class is scanned linearly. The
	// sort is stable, so within a class indexes increase.
	r.classHash = make([]uint64, len(r.order))
	for j, i := range r.order {
		r.classHash[j] = r.nodeHash[i]
	}
}

// candidate is a member's score for one key. Members are ordered by
// weighted score, then raw score, then index (name order), so the order
// never depends on which other members exist.
type candidate struct {
	weighted float64 // w / -ln(u); 0 when all weights are equal
	raw      uint64
	idx      uint32
}

func (a candidate) better(b candidate) bool {
	if a.weighted != b.weighted {
		return a.weighted > b.weighted
	}
	if a.raw != b.raw {
		return a.raw > b.raw
	}
	return a.idx < b.idx
}

// weightedScore is w / -ln(u) for u = raw mapped into (0, 1). Within one
// weight it is monotonic in raw, so only each weight's best raw score
// needs a logarithm.
func weightedScore(w float64, raw uint64) float64 {
	u := (float64(raw>>11) + 0.5) * (1.0 / (1 << 53))
	return w / -math.Log(u)
}

func (r *Ring) rendezvousOwner(h uint64) int {
	if r.classes == nil {
		best, bi := uint64(0), 0
		for i, nh := range r.nodeHash {
			if s := mix64(h ^ nh); s > best {
				best, bi = s, i
			}
		}
		return bi
	}
	var best candidate
	for k, c := range r.classes {
		// The first of equal scores has the lowest index.
		top, at := uint64(0), 0
		for j, nh := range r.classHash[c.start:c.end] {
			if s := mix64(h ^ nh); s > top {
				top, at = s, j
			}
		}
		cb := candidate{weightedScore(c.weight, top), top, r.order[c.start+at]}
		if k == 0 || cb.better(best) {
			best = cb
		}
	}
	return int(best.idx)
}

// offer inserts c into top[:k], kept best first, and returns the new
// length; len(top) is the number of candidates wanted.
func offer(top []candidate, k int, c candidate) int {
	if k == len(top) {
		if !c.better(top[k-1]) {
			return k
		}
	} else {
		k++
	}
	i := k - 1
	for i > 0 && c.better(top[i-1]) {
		top[i] = top[i-1]
		i--
	}
	top[i] = c
	return k
}

const stackCandidates = 16

var candidatePool = sync.Pool{New: func() any { return new([]candidate) }}

func (r *Ring) rendezvousOwners(h uint64, n int, dst []string) []string {
	// Two buffers of n candidates: the overall best, and (for weighted
	// members) the best of one weight. On the stack up to 16.
	var stack [2 * stackCandidates]candidate
	var top, class []candidate
	var pooled *[]candidate
	if n <= stackCandidates {
		top, class = stack[:n], stack[n:2*n]
	} else {
		pooled = candidatePool.Get().(*[]candidate)
		*pooled = slices.Grow((*pooled)[:0], 2*n)
		buf := (*pooled)[:2*n]
		top, class = buf[:n], buf[n:]
	}
	k := 0
	if r.classes == nil {
		for i, nh := range r.nodeHash {
			s := mix64(h ^ nh)
			// Members come in index order, so a tie loses to the one kept.
			if k < n || s > top[n-1].raw {
				k = offer(top, k, candidate{raw: s, idx: uint32(i)})
			}
		}
	} else {
		// The best n of each weight by raw score, then a logarithm for
		// each of those only.
		for _, c := range r.classes {
			kc := 0
			for j, nh := range r.classHash[c.start:c.end] {
				if s := mix64(h ^ nh); kc < n || s > class[n-1].raw {
					kc = offer(class, kc, candidate{raw: s, idx: r.order[c.start+j]})
				}
			}
			for _, cand := range class[:kc] {
				cand.weighted = weightedScore(c.weight, cand.raw)
				k = offer(top, k, cand)
			}
		}
	}
	for _, c := range top[:k] {
		dst = append(dst, r.names[c.idx])
	}
	if pooled != nil {
		candidatePool.Put(pooled)
	}
	return dst
}
