package ring

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// point is a ring position and the index of the member owning it. They
// are stored together so that a lookup touches one cache line for both.
type point struct {
	hash  uint64
	owner uint32
}

func (r *Ring) buildVirtualNodes(seed uint64, perWeight int) error {
	total := 0
	counts := make([]int, len(r.members))
	for i, m := range r.members {
		c := math.Round(float64(perWeight) * m.Weight)
		if c > 1<<24 {
			return fmt.Errorf("ring: member %q weight %v: %w", m.Name, m.Weight, ErrBadWeight)
		}
		counts[i] = max(1, int(c))
		total += counts[i]
	}
	pts := make([]point, 0, total)
	for i, m := range r.members {
		d := nameDigest(seed, m.Name)
		for j := range counts[i] {
			pts = append(pts, point{suffixHash(&d, domainPoint, uint32(j)), uint32(i)})
		}
	}
	r.setPoints(pts, false)
	return nil
}

// buildNginx places points exactly as ngx_http_upstream_init_chash: for
// each server, base = crc32 state after "host" "\0" "port"; point j is
// crc32(base, prev) where prev is point j-1's hash as 4 little-endian
// bytes (0 for the first point).
func (r *Ring) buildNginx(cfg Config) error {
	if cfg.Points != 0 && cfg.Points != NginxPoints {
		return fmt.Errorf("ring: Points %d for nginx (it uses %d): %w", cfg.Points, NginxPoints, ErrBadConfig)
	}
	if cfg.Seed != 0 {
		return fmt.Errorf("ring: Seed %d for nginx (it has none): %w", cfg.Seed, ErrBadConfig)
	}
	var pts []point
	for i, m := range r.members {
		if m.Weight != math.Trunc(m.Weight) || m.Weight > 1<<20 {
			return fmt.Errorf("ring: nginx member %q weight %v: %w", m.Name, m.Weight, ErrBadWeight)
		}
		host, port := nginxHostPort(m.Name)
		base := crc32.Update(0, crc32.IEEETable, []byte(host))
		base = crc32.Update(base, crc32.IEEETable, []byte{0})
		base = crc32.Update(base, crc32.IEEETable, []byte(port))
		var prev [4]byte
		for range int(m.Weight) * NginxPoints {
			h := crc32.Update(base, crc32.IEEETable, prev[:])
			pts = append(pts, point{uint64(h) << 32, uint32(i)})
			binary.LittleEndian.PutUint32(prev[:], h)
		}
	}
	r.crcKeys = true
	r.setPoints(pts, true)
	return nil
}

// nginxHostPort splits an nginx server string as
// ngx_http_upstream_init_chash does: "unix:" sockets have no port;
// otherwise the port is the run of digits after the last colon, if any.
func nginxHostPort(s string) (host, port string) {
	if len(s) >= 5 && strings.EqualFold(s[:5], "unix:") {
		return s[5:], ""
	}
	for j := len(s) - 1; j >= 0; j-- {
		c := s[j]
		if c == ':' {
			return s[:j], s[j+1:]
		}
		if c < '0' || c > '9' {
			break
		}
	}
	return s, ""
}

// setPoints sorts the points, drops repeated positions when dedup is set
// (as nginx does; VirtualNodes keeps them, ordered by member name, which
// does not depend on who else is a member), and builds the index.
func (r *Ring) setPoints(pts []point, dedup bool) {
	slices.SortFunc(pts, func(a, b point) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.owner, b.owner) // members are sorted by name
	})
	if dedup {
		pts = slices.CompactFunc(pts, func(a, b point) bool { return a.hash == b.hash })
	}
	r.points = slices.Clip(pts)

	// One bucket per point (rounded up to a power of two) keeps the scan
	// after the index read to about one comparison.
	b := 0
	if len(pts) > 1 {
		b = min(bits.Len(uint(len(pts)-1)), 24)
	}
	r.shift = uint(64 - b)
	r.index = make([]uint32, 1<<b+1)
	i := 0
	for bucket := range 1 << b {
		for i < len(r.points) && r.points[i].hash>>r.shift < uint64(bucket) {
			i++
		}
		r.index[bucket] = uint32(i)
	}
	r.index[1<<b] = uint32(len(r.points))
}

// pointAt returns the position of the first point at or after h, wrapping
// to the first point past the end.
func (r *Ring) pointAt(h uint64) int {
	b := h >> r.shift
	i, end := int(r.index[b]), int(r.index[b+1])
	for i < end && r.points[i].hash < h {
		i++
	}
	if i == len(r.points) {
		i = 0
	}
	return i
}

// pointOwners walks the ring from h collecting distinct members.
func (r *Ring) pointOwners(h uint64, n int, dst []string) []string {
	start := len(dst)
	i := r.pointAt(h)
	for range len(r.points) {
		name := r.names[r.points[i].owner]
		if !slices.Contains(dst[start:], name) {
			dst = append(dst, name)
			if len(dst)-start == n {
				break
			}
		}
		if i++; i == len(r.points) {
			i = 0
		}
	}
	return dst
}
