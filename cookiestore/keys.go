package cookiestore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the length of a key: 256 bits.
const KeySize = 32

// Key is one key of the key ring.
//
// Rotation takes two steps, so that during a rolling deploy no node meets a
// cookie it cannot open:
//
//  1. add the new key as open-only on every node ("OLD,open:NEW");
//  2. once every node runs with it, make it the sealing key and the old one
//     open-only ("NEW,open:OLD").
//
// Cookies sealed with the old key are resealed with the new one on their
// next request that loads the session (see the package documentation), so
// the old key can be removed once the longest idle timeout has passed
// since step 2. Cookies still sealed with a removed key open as "no
// session".
type Key struct {
	// Secret is the key itself: KeySize random bytes.
	Secret []byte
	// OpenOnly marks a key that opens cookies but never seals them.
	OpenOnly bool
}

// GenerateKey returns a new random key in hex, as ParseKeys reads it.
func GenerateKey() string {
	b := make([]byte, KeySize)
	rand.Read(b) // never fails; it crashes the program instead
	return hex.EncodeToString(b)
}

// ParseKeys reads a key ring from configuration: keys separated by commas
// or white space, each 64 hex digits or 43 base64 characters (standard or
// URL alphabet, padding optional), prefixed with "open:" when it is
// open-only. Exactly one key must be a sealing key, for example
//
//	SESSIONKIT_COOKIE_KEYS="9f86d081...,open:2c26b46b..."
//
// The error names the position and length of a bad key, never the key.
func ParseKeys(s string) ([]Key, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no key given (GenerateKey makes one)", ErrNoKey)
	}
	keys := make([]Key, 0, len(fields))
	for i, f := range fields {
		var k Key
		if rest, ok := strings.CutPrefix(f, "open:"); ok {
			k.OpenOnly, f = true, rest
		}
		secret, err := parseSecret(f)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		k.Secret = secret
		keys = append(keys, k)
	}
	return keys, nil
}

func parseSecret(s string) ([]byte, error) {
	b, err := hex.DecodeString(s) // an even number of hex digits is hex, never base64
	if err != nil {
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
			if b, err = enc.DecodeString(strings.TrimRight(s, "=")); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %d characters that are neither hex nor base64; want 64 hex digits or 43 base64 characters", ErrBadKey, len(s))
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d (64 hex digits or 43 base64 characters)", ErrBadKey, len(b), KeySize)
	}
	return b, nil
}

// ringKey is one key of the ring, ready to use.
type ringKey struct {
	id       byte
	aead     [numCiphers]cipher.AEAD // by Cipher
	ad       [flagsKnown + 1][]byte  // associated data by header flags
	openOnly bool
}

// ring holds the keys by their ID. IDs are one byte derived from the key,
// so two keys may share one; open then tries both.
type ring struct {
	seal *ringKey
	byID [256][]*ringKey
}

func newRing(keys []Key) (*ring, error) {
	r := &ring{}
	seen := map[string]bool{}
	for i, k := range keys {
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("key %d: %w: %d bytes, want %d", i+1, ErrBadKey, len(k.Secret), KeySize)
		}
		if seen[string(k.Secret)] {
			return nil, fmt.Errorf("key %d: %w: listed twice", i+1, ErrBadKey)
		}
		seen[string(k.Secret)] = true
		rk, err := newRingKey(k)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if !k.OpenOnly {
			if r.seal != nil {
				return nil, fmt.Errorf("%w: keys %d and another are both sealing keys; mark all but one \"open:\"", ErrNoKey, i+1)
			}
			r.seal = rk
		}
		r.byID[rk.id] = append(r.byID[rk.id], rk)
	}
	if r.seal == nil {
		return nil, fmt.Errorf("%w: every key is open-only (GenerateKey makes one)", ErrNoKey)
	}
	return r, nil
}

// newRingKey derives one subkey per cipher with HKDF, so that one secret is
// never used by two algorithms, and the key's ID from its hash.
func newRingKey(k Key) (*ringKey, error) {
	sum := sha256.Sum256(append([]byte("sessionkit/cookiestore key id\x00"), k.Secret...))
	rk := &ringKey{id: sum[0], openOnly: k.OpenOnly}
	for c := range Cipher(numCiphers) {
		sub, err := hkdf.Key(sha256.New, k.Secret, nil, "sessionkit/cookiestore/v1 "+c.String(), KeySize)
		if err != nil {
			return nil, err
		}
		switch c {
		case XChaCha20Poly1305:
			rk.aead[c], err = chacha20poly1305.NewX(sub)
		case AES256GCM:
			var b cipher.Block
			if b, err = aes.NewCipher(sub); err == nil {
				rk.aead[c], err = cipher.NewGCM(b)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return rk, nil
}
