package ring

import (
	"encoding/binary"
	"hash/crc32"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// mix64 is the splitmix64 finalizer: a bijection on uint64 whose output bits
// each depend on every input bit. It turns structured inputs (a key hash
// XORed with a node hash) into independent-looking scores.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// seedMask derives the value XORed into every key hash from Config.Seed.
// Seed 0 leaves key hashes as plain XXH64 values.
func seedMask(seed uint64) uint64 {
	if seed == 0 {
		return 0
	}
	return mix64(seed)
}

// nameHash hashes a member name with XXH64 under the configured seed, with
// a domain byte so the hashes of one name for different purposes differ:
// XXH64(seed, name || domain || uint32le(i)).
func nameHash(seed uint64, domain byte, name string, i uint32) uint64 {
	d := nameDigest(seed, name)
	return suffixHash(&d, domain, i)
}

// nameDigest returns the XXH64 state after name, to hash many suffixes.
func nameDigest(seed uint64, name string) xxhash.Digest {
	var d xxhash.Digest
	d.ResetWithSeed(seed)
	d.WriteString(name)
	return d
}

// suffixHash completes nameHash from a copy of nameDigest's state.
func suffixHash(name *xxhash.Digest, domain byte, i uint32) uint64 {
	d := *name
	var tail [5]byte
	tail[0] = domain
	binary.LittleEndian.PutUint32(tail[1:], i)
	d.Write(tail[:])
	return d.Sum64()
}

// Domains of nameHash.
const (
	domainPoint      = 'p'
	domainRendezvous = 'r'
	domainMaglev     = 'm'
)

// stringBytes views s as a byte slice without copying. The result must not
// be modified; it is only passed to hash functions that read it.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// crc32IEEE is nginx's ngx_crc32_long: CRC-32 (IEEE) of the whole key.
func crc32IEEE(b []byte) uint32 {
	return crc32.ChecksumIEEE(b)
}
