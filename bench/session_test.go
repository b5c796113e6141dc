// Package bench compares sessionkit with its peers. It is a module of its
// own so that the peers never become dependencies of sessionkit. Run:
//
//	go test -run '^$' -bench . -count 10 | tee new.txt && benchstat new.txt
package bench

import (
	"encoding/gob"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sesstable/sesstabletest"
)

// session returns the session both libraries seal: nine keys of about 200
// bytes (user id, CSRF token, name, cart id, a flash message, last seen,
// locale, theme, CSRF expiry); the 2KB session adds a cart of 22 items.
func session(size string) map[string]any {
	v := sesstabletest.Session()
	if size == "2KB" {
		var cart []string
		for i := range 22 {
			cart = append(cart, fmt.Sprintf(`{"sku":"SKU-%05d","name":"Product number %d","qty":%d,"cents":%d}`, 10000+i*37, i, i%3+1, 999+i*100))
		}
		v["cart"] = cart
	}
	return v
}

var sizes = []string{"200B", "2KB"}

// gob, which scs and gorilla encode sessions with, must know the types it
// meets inside interface values.
func init() { gob.Register(time.Time{}) }

// encoded returns the session's values as a store keeps them: each encoded
// by sessionkit's default codec.
func encoded(size string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range session(size) {
		b, err := sessionkit.BinaryCodec{}.Encode(v)
		if err != nil {
			panic(err)
		}
		out[k] = b
	}
	return out
}
