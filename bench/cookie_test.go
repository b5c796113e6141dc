package bench

import (
	"context"
	"encoding/gob"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cookiestore"
)

// BenchmarkSealOpen measures one seal and one open of a whole session,
// serialization included, and the length of the cookie value.
func BenchmarkSealOpen(b *testing.B) {
	for _, size := range sizes {
		b.Run("sessionkit-"+size, func(b *testing.B) { benchSessionkit(b, cookiestore.Config{}, size) })
		b.Run("securecookie-"+size, func(b *testing.B) { benchSecurecookie(b, size) })
	}
}

// BenchmarkSealOpenOptions measures the cookie store's other ciphers and
// compressions on the same sessions.
func BenchmarkSealOpenOptions(b *testing.B) {
	for _, size := range sizes {
		for _, c := range []cookiestore.Cipher{cookiestore.XChaCha20Poly1305, cookiestore.AES256GCM} {
			for z, zname := range map[cookiestore.Compression]string{cookiestore.S2: "s2", cookiestore.Zstd: "zstd", cookiestore.NoCompression: "none"} {
				b.Run(fmt.Sprintf("%s-%s-%s", c, zname, size), func(b *testing.B) {
					benchSessionkit(b, cookiestore.Config{Cipher: c, Compression: z}, size)
				})
			}
		}
	}
}

func benchSessionkit(b *testing.B, cfg cookiestore.Config, size string) {
	keys, err := cookiestore.ParseKeys(cookiestore.GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	cfg.Keys = keys
	store, err := cookiestore.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	values := session(size)
	codec := sessionkit.BinaryCodec{}
	ctx := context.Background()
	now := time.Now()
	meta := sessionkit.Meta{Principal: "alice", Created: now, IdleTimeout: 30 * time.Minute,
		IdleDeadline: now.Add(30 * time.Minute), Deadline: now.Add(24 * time.Hour)}
	var n int
	for b.Loop() {
		enc := make(map[string][]byte, len(values))
		for k, v := range values {
			if enc[k], err = codec.Encode(v); err != nil {
				b.Fatal(err)
			}
		}
		tok, err := store.Create(ctx, "", sessionkit.Record{Meta: meta, Values: enc})
		if err != nil {
			b.Fatal(err)
		}
		rec, found, err := store.Load(ctx, tok)
		if err != nil || !found {
			b.Fatal("the sealed session does not open", err)
		}
		for _, v := range rec.Values {
			if _, err := codec.Decode(v); err != nil {
				b.Fatal(err)
			}
		}
		n = len(tok)
	}
	b.ReportMetric(float64(n), "bytes/cookie")
}

func benchSecurecookie(b *testing.B, size string) {
	gob.Register(time.Time{})
	gob.Register([]string{})
	sc := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	sc.MaxLength(0) // the 2KB session passes its default 4096
	values := session(size)
	var n int
	for b.Loop() {
		enc, err := sc.Encode("session", values)
		if err != nil {
			b.Fatal(err)
		}
		var out map[string]any
		if err := sc.Decode("session", enc, &out); err != nil {
			b.Fatal(err)
		}
		n = len(enc)
	}
	b.ReportMetric(float64(n), "bytes/cookie")
}
