// Package clusterkey derives the keys of a cluster's gossip and data
// plane from the one cluster key its members share.
package clusterkey

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// MinLen is the shortest cluster key accepted, in bytes.
const MinLen = 32

// Check returns an error when key is shorter than MinLen.
func Check(key []byte) error {
	if len(key) < MinLen {
		return fmt.Errorf("the cluster key must have at least %d bytes, got %d", MinLen, len(key))
	}
	return nil
}

// Derive derives n bytes of key for purpose ("gossip", "data plane")
// from the cluster key.
func Derive(key []byte, purpose string, n int) []byte {
	k, err := hkdf.Key(sha256.New, key, nil, "sessionkit cluster "+purpose, n)
	if err != nil {
		panic(err) // n is small and fixed
	}
	return k
}
