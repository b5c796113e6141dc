package cookiestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
)

// BenchmarkStore measures one Create (seal) and one Load (open) of a
// session of nine values (about 200 bytes) encoded beforehand. The bench
// module compares the whole path, serialization included, with other
// libraries.
func BenchmarkStore(b *testing.B) {
	s := newStore(b, cookiestore.Config{})
	codec := sessionkit.BinaryCodec{}
	values := map[string][]byte{}
	for k, v := range map[string]any{
		"user_id": 48213, "csrf": "q3Zt8Xr9LmP0vW2yKcD5nB7hJ4fG6sA1eR8uI0oT3pQ", "name": "Alice Martin",
		"cart_id": "c_7f3a9b2e", "flash": "Your order has been placed.", "last_seen": time.Now(),
		"locale": "en-GB", "theme": "dark", "csrf_exp": time.Now().Add(time.Hour),
	} {
		values[k], _ = codec.Encode(v)
	}
	rec := sessionkit.Record{Meta: testMeta(), Values: values}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tok, err := s.Create(ctx, "", rec)
		if err != nil {
			b.Fatal(err)
		}
		if _, found, _ := s.Load(ctx, tok); !found {
			b.Fatal("not found")
		}
	}
}
