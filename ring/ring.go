package ring

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Member is one node of a ring.
type Member struct {
	// Name identifies the node. It is what the ring hashes, so it must be
	// stable across restarts and identical in every process that builds
	// the ring: an address or a node ID, never a list position.
	Name string

	// Weight scales the node's share of keys. 0 means 1. It must be finite
	// and not negative. Jump accepts only 1; Nginx only whole numbers,
	// like nginx's server weight.
	Weight float64
}

// Algorithm names a way of mapping keys to members.
type Algorithm string

// The algorithms. Only VirtualNodes, Nginx and Rendezvous define a
// preference list, so only they suit replica placement (see Owners).
const (
	// VirtualNodes is a ring of Config.Points points per unit of weight
	// for each member, placed by XXH64 of the member name. Because the
	// number of points per member does not depend on the number of
	// members, the preference list survives joins and leaves: when a
	// key's owner leaves, its second entry takes over.
	VirtualNodes Algorithm = "ring"

	// Nginx reproduces nginx's "hash $key consistent" placement
	// (ngx_http_upstream_hash_module): 160 points per unit of weight,
	// CRC-32 of "host\0port" followed by the previous point's hash,
	// and CRC-32 of the raw key. Member names are nginx server strings,
	// "host:port" (or "unix:/path") exactly as written in the upstream
	// block; weights are nginx's integer weights. Config.Points and
	// Config.Seed must be 0. With 160 points balance is loose (the
	// largest of 100 members holds about 1.3 times the mean). Where two
	// points share a 32-bit hash nginx keeps one, so the preference list
	// can differ from nginx's retry order for the keys of that arc.
	Nginx Algorithm = "nginx"

	// Rendezvous is highest random weight hashing: every member scores
	// every key and the highest score wins. Weighted members score
	// w / -ln(u) (logarithmic method), with one logarithm per distinct
	// weight per lookup, none when all weights are equal. A lookup costs
	// O(members). With unequal weights scores are floating point and
	// math.Log may differ in the last bit between CPU architectures, so
	// processes on different architectures can disagree on a key whose
	// two best scores are that close (about one key in 2^50).
	Rendezvous Algorithm = "rendezvous"

	// Maglev is Google's Maglev lookup table of Config.TableSize entries.
	// Lookups are one table read and balance is near perfect, but every
	// membership change also moves about 0.2-0.6% of keys between members
	// that stayed, and there is no preference list: use it where lookup
	// speed matters more than keeping sessions in place.
	Maglev Algorithm = "maglev"

	// Jump is Lamping and Veach's jump consistent hash over numbered
	// buckets; members are numbered in the order of their names. It only
	// suits a fixed sequence of buckets where only the last is ever
	// removed: adding or removing a member whose name sorts before
	// others renumbers all of those and moves their keys. Weights other
	// than 1 are rejected and there is no preference list.
	Jump Algorithm = "jump"
)

// Algorithms lists the algorithms in the order of the documentation.
func Algorithms() []Algorithm {
	return []Algorithm{VirtualNodes, Nginx, Rendezvous, Maglev, Jump}
}

// ParseAlgorithm returns the Algorithm named s. It also accepts
// "ketama-nginx" for Nginx and "" for VirtualNodes.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(strings.ToLower(strings.TrimSpace(s))); a {
	case "":
		return VirtualNodes, nil
	case "ketama-nginx":
		return Nginx, nil
	case VirtualNodes, Nginx, Rendezvous, Maglev, Jump:
		return a, nil
	}
	return "", fmt.Errorf("ring: algorithm %q: %w", s, ErrUnknownAlgorithm)
}

// HasPreferenceList reports whether the algorithm defines an order of
// members for each key in which removing a member only removes it from the
// order. VirtualNodes, Nginx and Rendezvous do; Maglev and Jump do not.
func (a Algorithm) HasPreferenceList() bool {
	switch a {
	case "", VirtualNodes, Nginx, Rendezvous:
		return true
	}
	return false
}

// Defaults of Config.
const (
	// DefaultPoints is the number of points per unit of weight of
	// VirtualNodes: enough that the most loaded of 100 members holds 5-7%
	// more than the mean (measured over 8 seeds; 1.25 with 160 points).
	DefaultPoints = 1500

	// NginxPoints is nginx's fixed number of points per unit of weight.
	NginxPoints = 160

	// DefaultTableSize is the Maglev table size: a prime, and at least
	// 100 times the number of members for good balance up to 655 members.
	DefaultTableSize = 65537

	// DefaultLoadFactor is the c of OwnerBounded when c < 1 is passed.
	DefaultLoadFactor = 1.25
)

// Config selects and tunes the algorithm. The zero value is VirtualNodes
// with DefaultPoints and seed 0.
type Config struct {
	// Algorithm is the placement algorithm. Default VirtualNodes.
	Algorithm Algorithm

	// Points is the number of ring points per unit of weight for
	// VirtualNodes. Default DefaultPoints. It is fixed, never derived
	// from the number of members, so preference lists survive changes.
	// A ring takes about 24 bytes per point: 3.6 MB for 100 members at
	// the default.
	// Nginx requires 0 (it always uses NginxPoints); other algorithms
	// ignore it.
	Points int

	// Seed changes every placement decision: rings built with different
	// seeds place keys independently. Default 0. Every process must use
	// the same seed. Nginx requires 0.
	Seed uint64

	// TableSize is the number of Maglev table entries. It must be a prime
	// of at least the number of members, below 2^26. Default
	// DefaultTableSize. Balance is within about 1% while it is at least
	// 100 times the number of members; Maglev takes at most 65536
	// members. Other algorithms ignore it.
	TableSize int
}

type kind uint8

const (
	kindPoints kind = iota
	kindRendezvous
	kindMaglev
	kindJump
)

// Ring is an immutable snapshot of a member list under one Config. All
// methods are safe for concurrent use, take no locks and do not allocate.
//
// Membership changes build a new Ring; readers switch to it atomically:
//
//	var current atomic.Pointer[ring.Ring]
//	current.Store(r)             // on every membership change
//	owner := current.Load().Owner(key)
//
// Two Rings built from the same Config and the same members, in any order,
// in any process, give the same answers.
type Ring struct {
	algo    Algorithm
	kind    kind
	members []Member // sorted by name, Weight 0 replaced by 1
	names   []string // members[i].Name
	keyMask uint64   // XORed into XXH64 key hashes
	// totalWeight is the sum of member weights.
	totalWeight float64

	// VirtualNodes and Nginx: sorted points, and index[b] = the first
	// point whose top bits are >= b.
	crcKeys bool
	points  []point
	index   []uint32
	shift   uint

	// Rendezvous: per-member hash, and members grouped by weight.
	nodeHash  []uint64
	classes   []weightClass // empty when all weights are equal
	order     []uint32      // member indexes, grouped by class
	classHash []uint64      // nodeHash in order's order

	// Maglev: member index of each table entry.
	table []uint16
}

type weightClass struct {
	weight     float64
	start, end int // range in order
}

// New builds a Ring of members under cfg. It does not retain members.
// Member names must be distinct and not empty; weights must be finite and
// not negative. An empty member list is allowed: such a Ring owns nothing
// and Owner returns "".
func New(cfg Config, members []Member) (*Ring, error) {
	algo, err := ParseAlgorithm(string(cfg.Algorithm))
	if err != nil {
		return nil, err
	}
	r := &Ring{algo: algo, keyMask: seedMask(cfg.Seed)}
	r.members = make([]Member, len(members))
	copy(r.members, members)
	slices.SortFunc(r.members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	r.names = make([]string, len(r.members))
	for i := range r.members {
		m := &r.members[i]
		if m.Name == "" {
			return nil, fmt.Errorf("ring: %w", ErrEmptyName)
		}
		if i > 0 && r.members[i-1].Name == m.Name {
			return nil, fmt.Errorf("ring: member %q: %w", m.Name, ErrDuplicateName)
		}
		if m.Weight < 0 || math.IsNaN(m.Weight) || math.IsInf(m.Weight, 0) {
			return nil, fmt.Errorf("ring: member %q weight %v: %w", m.Name, m.Weight, ErrBadWeight)
		}
		if m.Weight == 0 {
			m.Weight = 1
		}
		r.names[i] = m.Name
		r.totalWeight += m.Weight
	}
	if cfg.Points < 0 {
		return nil, fmt.Errorf("ring: Points %d: %w", cfg.Points, ErrBadConfig)
	}
	if len(r.members) >= math.MaxUint32 {
		return nil, fmt.Errorf("ring: %d members: %w", len(r.members), ErrBadConfig)
	}

	switch algo {
	case VirtualNodes:
		r.kind = kindPoints
		points := cfg.Points
		if points == 0 {
			points = DefaultPoints
		}
		err = r.buildVirtualNodes(cfg.Seed, points)
	case Nginx:
		r.kind = kindPoints
		err = r.buildNginx(cfg)
	case Rendezvous:
		r.kind = kindRendezvous
		r.buildRendezvous(cfg.Seed)
	case Maglev:
		r.kind = kindMaglev
		err = r.buildMaglev(cfg)
	case Jump:
		r.kind = kindJump
		err = r.checkJump()
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Algorithm returns the algorithm the Ring was built with.
func (r *Ring) Algorithm() Algorithm { return r.algo }

// Len returns the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Members returns a copy of the members sorted by name, with weight 0
// replaced by 1. A member's position in this slice is its index, as used
// by OwnerIndex, Index and OwnerBounded.
func (r *Ring) Members() []Member { return slices.Clone(r.members) }

// Name returns the name of the member at index i.
func (r *Ring) Name(i int) string { return r.names[i] }

// Index returns the index of the member called name.
func (r *Ring) Index(name string) (int, bool) {
	return slices.BinarySearch(r.names, name)
}

// keyHash is the 64-bit position of key for every algorithm but Nginx.
func (r *Ring) keyHash(key []byte) uint64 {
	if r.crcKeys {
		return uint64(crc32IEEE(key)) << 32
	}
	return xxhash.Sum64(key) ^ r.keyMask
}

func (r *Ring) keyHashString(key string) uint64 {
	if r.crcKeys {
		return uint64(crc32IEEE(stringBytes(key))) << 32
	}
	return xxhash.Sum64String(key) ^ r.keyMask
}

// Owner returns the name of the member that owns key, or "" when the Ring
// has no members.
func (r *Ring) Owner(key []byte) string {
	if len(r.names) == 0 {
		return ""
	}
	return r.names[r.lookup(r.keyHash(key))]
}

// OwnerString is Owner for a string key, without converting it.
func (r *Ring) OwnerString(key string) string {
	if len(r.names) == 0 {
		return ""
	}
	return r.names[r.lookup(r.keyHashString(key))]
}

// OwnerIndex returns the index (in Members) of the member that owns key,
// or -1 when the Ring has no members.
func (r *Ring) OwnerIndex(key []byte) int {
	if len(r.names) == 0 {
		return -1
	}
	return r.lookup(r.keyHash(key))
}

func (r *Ring) lookup(h uint64) int {
	switch r.kind {
	case kindPoints:
		return int(r.points[r.pointAt(h)].owner)
	case kindRendezvous:
		return r.rendezvousOwner(h)
	case kindMaglev:
		return r.maglevOwner(h)
	default:
		return jumpHash(h, len(r.names))
	}
}

// Owners appends to dst the names of the first n distinct members of key's
// preference list and returns the extended slice. The first is Owner(key).
// n is capped at Len. Owners allocates nothing when dst has room for n
// more names (for Rendezvous, also when n is at most 16).
//
// The preference list is the order in which members take over the key:
// when the owner leaves, the second entry becomes the owner; when a member
// joins and takes the key, the previous owner becomes the second entry.
// That is where a key's backups belong. Maglev and Jump define no such
// list: for them Owners appends only the owner.
func (r *Ring) Owners(key []byte, n int, dst []string) []string {
	if len(r.names) == 0 || n <= 0 {
		return dst
	}
	return r.preference(r.keyHash(key), n, dst)
}

// OwnersString is Owners for a string key, without converting it.
func (r *Ring) OwnersString(key string, n int, dst []string) []string {
	if len(r.names) == 0 || n <= 0 {
		return dst
	}
	return r.preference(r.keyHashString(key), n, dst)
}

func (r *Ring) preference(h uint64, n int, dst []string) []string {
	n = min(n, len(r.names))
	switch r.kind {
	case kindPoints:
		return r.pointOwners(h, n, dst)
	case kindRendezvous:
		return r.rendezvousOwners(h, n, dst)
	default:
		return append(dst, r.names[r.lookup(h)])
	}
}
