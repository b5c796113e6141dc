package ring

import "fmt"

func (r *Ring) checkJump() error {
	for _, m := range r.members {
		if m.Weight != 1 {
			return fmt.Errorf("ring: jump member %q weight %v: %w", m.Name, m.Weight, ErrBadWeight)
		}
	}
	return nil
}

// jumpHash is Lamping and Veach's jump consistent hash ("A Fast, Minimal
// Memory, Consistent Hash Algorithm", 2014): the bucket in [0, n) for key.
func jumpHash(key uint64, n int) int {
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
