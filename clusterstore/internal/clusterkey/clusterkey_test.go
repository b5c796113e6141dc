package clusterkey

import (
	"bytes"
	"testing"
)

func TestDerive(t *testing.T) {
	key := bytes.Repeat([]byte("k"), MinLen)
	if err := Check(key); err != nil {
		t.Fatal(err)
	}
	if Check(key[:MinLen-1]) == nil {
		t.Fatal("a short key passed")
	}
	g, d := Derive(key, "gossip", 32), Derive(key, "data plane", 32)
	if len(g) != 32 || bytes.Equal(g, d) {
		t.Fatal("two purposes share a key")
	}
	if !bytes.Equal(g, Derive(key, "gossip", 32)) {
		t.Fatal("a derivation is not repeatable")
	}
	if bytes.Equal(g, Derive(bytes.Repeat([]byte("j"), MinLen), "gossip", 32)) {
		t.Fatal("two cluster keys derive one key")
	}
}
