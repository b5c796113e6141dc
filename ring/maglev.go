package ring

import (
	"fmt"
	"math/big"
	"math/bits"
)

// buildMaglev fills the lookup table as in the Maglev paper (Eisenbud et
// al., NSDI 2016, section 3.4): each member walks its own permutation of
// the table (offset, skip from two hashes of its name) and members take
// turns claiming their next free entry. With weights, a member takes a
// turn in a round when its accumulated share of the heaviest weight
// reaches one, so entries are claimed in proportion to weight.
func (r *Ring) buildMaglev(cfg Config) error {
	m := cfg.TableSize
	if m == 0 {
		m = DefaultTableSize
	}
	if m < 2 || m > 1<<26 || !big.NewInt(int64(m)).ProbablyPrime(0) {
		return fmt.Errorf("ring: maglev TableSize %d (want a prime below 2^26): %w", m, ErrBadConfig)
	}
	if len(r.members) > m {
		return fmt.Errorf("ring: maglev TableSize %d below %d members: %w", m, len(r.members), ErrBadConfig)
	}
	if len(r.members) > 1<<16 {
		return fmt.Errorf("ring: %d members for maglev (at most 65536): %w", len(r.members), ErrBadConfig)
	}
	// 16-bit entries halve the table: 128 KiB at the default size.
	r.table = make([]uint16, m)
	if len(r.members) == 0 {
		return nil
	}
	n := len(r.members)
	offset := make([]uint64, n)
	skip := make([]uint64, n)
	next := make([]uint64, n)
	credit := make([]float64, n)
	step := make([]float64, n)
	maxW := 0.0
	for _, mb := range r.members {
		maxW = max(maxW, mb.Weight)
	}
	for i, mb := range r.members {
		h := nameHash(cfg.Seed, domainMaglev, mb.Name, 0)
		offset[i] = h % uint64(m)
		skip[i] = mix64(h)%uint64(m-1) + 1
		step[i] = mb.Weight / maxW
	}
	filled := make([]bool, m)
	for left := m; left > 0; {
		for i := 0; i < n && left > 0; i++ {
			credit[i] += step[i]
			if credit[i] < 1 {
				continue
			}
			credit[i]--
			for {
				c := (offset[i] + next[i]*skip[i]) % uint64(m)
				next[i]++
				if !filled[c] {
					filled[c] = true
					r.table[c] = uint16(i)
					left--
					break
				}
			}
		}
	}
	return nil
}

// maglevSlot maps h onto the table by multiply-shift (Lemire's reduction),
// which uses the high bits of h and needs no division.
func (r *Ring) maglevSlot(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(r.table)))
	return int(hi)
}

func (r *Ring) maglevOwner(h uint64) int {
	return int(r.table[r.maglevSlot(h)])
}
