package cookiestore

import (
	"bytes"
	"maps"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// FuzzPayload feeds any bytes, under any compression flag, to the payload
// decoder. Property: it never panics, and what decodes encodes to bytes
// that decode to the same payload.
func FuzzPayload(f *testing.F) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, p := range []*payload{
		{},
		{meta: sessionkit.Meta{Principal: "alice", Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour), IdleTimeout: 1500 * time.Microsecond, Persistent: true, Generation: 9}, sid: make([]byte, sidLen)},
		{meta: sessionkit.Meta{Created: now, IdleTimeout: time.Hour}, values: map[string][]byte{"a": {1}, "bb": bytes.Repeat([]byte("xyz"), 300)}},
	} {
		b := appendPayload(nil, p)
		f.Add(byte(compressNone), b)
		for _, c := range []Compression{S2, Zstd} {
			if out, flag := compress(c, nil, b); flag != compressNone {
				f.Add(flag, out)
			}
		}
	}
	f.Fuzz(func(t *testing.T, flag byte, b []byte) {
		pt, err := decompress(flag&flagCompression, b, 1<<20)
		if err != nil {
			return
		}
		p, err := decodePayload(pt)
		if err != nil {
			return
		}
		p2, err := decodePayload(appendPayload(nil, p))
		if err != nil {
			t.Fatalf("a re-encoded payload does not decode: %v", err)
		}
		m, n := p.meta, p2.meta
		if m.Principal != n.Principal || m.Persistent != n.Persistent || m.Generation != n.Generation ||
			m.IdleTimeout != n.IdleTimeout || !m.Created.Equal(n.Created) || !m.IdleDeadline.Equal(n.IdleDeadline) ||
			!m.Deadline.Equal(n.Deadline) || !bytes.Equal(p.sid, p2.sid) || !maps.EqualFunc(p.values, p2.values, bytes.Equal) {
			t.Fatalf("round trip differs:\n%+v\n%+v", p, p2)
		}
	})
}
