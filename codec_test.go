package sessionkit_test

import (
	"context"
	"encoding/gob"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

type cartItem struct {
	SKU string
	Qty int
}

func init() { gob.Register(cartItem{}) }

func TestCodecRoundTrip(t *testing.T) {
	c := sessionkit.BinaryCodec{}
	for _, v := range []any{
		nil, "", "héllo", []byte{}, []byte{0, 255}, true, false,
		0, -1, math.MaxInt, math.MinInt, int8(-128), int16(300), int32(-7), int64(math.MinInt64),
		uint(7), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64),
		float32(1.5), math.Inf(-1), 0.1,
		time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC),
		time.Date(2026, 11, 26, 12, 0, 0, 0, time.FixedZone("X", 3600)),
		90 * time.Second, []string{"a", "", "c"}, []string{}, map[string]string{"k": "v"},
		[]any{1, "two", []any{3.0}}, map[string]any{"n": nil, "m": map[string]any{"x": false}},
		cartItem{"book", 2},
	} {
		b, err := c.Encode(v)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", v, err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)): %v", v, err)
		}
		if tm, ok := v.(time.Time); ok {
			if !tm.Equal(got.(time.Time)) || tm.Format(time.RFC3339Nano) != got.(time.Time).Format(time.RFC3339Nano) {
				t.Fatalf("time %v came back as %v", tm, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("%#v (%T) came back as %#v (%T)", v, v, got, got)
		}
	}
}

func TestCodecErrors(t *testing.T) {
	c := sessionkit.BinaryCodec{}
	if _, err := c.Encode(make(chan int)); err == nil {
		t.Fatal("a channel encoded")
	}
	for _, b := range [][]byte{nil, {}, {9}, {1}, {1, 255}, {1, 1, 200}, {1, 19, 255, 255, 255, 255, 15}} {
		if _, err := c.Decode(b); err == nil {
			t.Fatalf("Decode(%v) succeeded", b)
		}
	}
	deep := []any{}
	for range 100 {
		deep = []any{deep}
	}
	if _, err := c.Encode(deep); err == nil {
		t.Fatal("a value nested 100 deep encoded")
	}
}

func FuzzCodec(f *testing.F) {
	c := sessionkit.BinaryCodec{}
	for _, v := range []any{"s", 1, []any{1, "x"}, map[string]any{"a": []string{"b"}}, time.Unix(0, 0).UTC(), 1.5} {
		b, _ := c.Encode(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := c.Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes and decodes to the same value.
		b2, err := c.Encode(v)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
		v2, err := c.Decode(b2)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		// Encoding is canonical but for map order: the sizes agree.
		if b3 := mustEncode(t, v2); len(b3) != len(b2) {
			t.Fatalf("%#v encodes to %d bytes, then %d", v, len(b2), len(b3))
		}
	})
}

func mustEncode(t *testing.T, v any) []byte {
	b, err := sessionkit.BinaryCodec{}.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGetDoesNotAllocate reads an int, a string's absence and a bool
// through Get: the typed reads of every request allocate nothing.
func TestGetDoesNotAllocate(t *testing.T) {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	m, err := sessionkit.New(store, sessionkit.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := m.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("user_id", 123456); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("admin", true); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s, err = m.Load(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if id, ok := sessionkit.Get[int](s, "user_id"); !ok || id != 123456 {
		t.Fatalf("Get[int] = %d, %v", id, ok)
	}
	if _, ok := sessionkit.Get[string](s, "user_id"); ok {
		t.Fatal("an int read as a string")
	}
	if n := testing.AllocsPerRun(100, func() {
		sessionkit.Get[int](s, "user_id")
		sessionkit.Get[bool](s, "admin")
		sessionkit.Get[string](s, "absent")
	}); n != 0 {
		t.Fatalf("%v allocations per read", n)
	}
}
