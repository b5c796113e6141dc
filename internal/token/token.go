// Package token is the one place session tokens are made, checked and
// hashed.
//
// A token is 32 bytes from crypto/rand, encoded as unpadded base64url: 43
// characters. Servers never store a token itself, only its SHA-256 hash, so a
// leaked store dump holds no usable token.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Len is the length of an encoded token.
const Len = 43

// New returns a fresh 256-bit token.
func New() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Valid reports whether s has the shape of a token made by New: Len
// characters of the base64url alphabet. It is cheap and runs before any
// store access, so garbage never reaches a store.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	// The last character carries 2 padding bits that must be zero, so
	// that every token has exactly one encoding.
	return base64URLValue(s[Len-1])&0x3 == 0
}

func base64URLValue(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	default:
		return 63
	}
}

// Hash returns the SHA-256 of the token: the key a server store files its
// record under.
func Hash(s string) [32]byte {
	if len(s) <= Len {
		// Tokens are short: hash from the stack, not a heap copy.
		var buf [Len]byte
		return sha256.Sum256(buf[:copy(buf[:], s)])
	}
	return sha256.Sum256([]byte(s))
}

// Short returns a short, non-reversible name for a token, for logs: the first
// 8 bytes of its hash in hex.
func Short(s string) string {
	if s == "" {
		return ""
	}
	h := Hash(s)
	return hex.EncodeToString(h[:8])
}

// ID returns the session ID of the token whose hash is h: the hash in hex.
// Server stores file records under h and list sessions by this ID, and
// lifecycle events name sessions by it.
func ID(h [32]byte) string { return hex.EncodeToString(h[:]) }
