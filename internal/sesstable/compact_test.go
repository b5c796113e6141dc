package sesstable

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// sameMeta compares metadata as a Compact keeps it: times to the
// nanosecond, without location.
func sameMeta(a, b sessionkit.Meta) bool {
	return a.Principal == b.Principal && a.Created.Equal(b.Created) && a.IdleDeadline.Equal(b.IdleDeadline) &&
		a.Deadline.Equal(b.Deadline) && a.IdleTimeout == b.IdleTimeout && a.Persistent == b.Persistent && a.Generation == b.Generation
}

func sameValues(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return bytes.Equal(x, y) && (x == nil) == (y == nil) })
}

// check compares c with the session it should hold.
func check(t *testing.T, what string, c Compact, meta sessionkit.Meta, values map[string][]byte) {
	t.Helper()
	if got := c.Meta(); !sameMeta(got, meta) {
		t.Fatalf("%s: meta %+v, want %+v", what, got, meta)
	}
	if got := c.Values(); !sameValues(got, values) || (len(values) == 0) != (got == nil) {
		t.Fatalf("%s: values %q, want %q", what, got, values)
	}
	if c.Principal() != meta.Principal || c.Size() != Size(&meta, values) || c.Len() != len(values) {
		t.Fatalf("%s: principal %q, size %d, len %d; want %q, %d, %d", what, c.Principal(), c.Size(), c.Len(), meta.Principal, Size(&meta, values), len(values))
	}
	for k, v := range values {
		if got, ok := c.Value(k); !ok || !bytes.Equal(got, v) {
			t.Fatalf("%s: Value(%q) = %q, %v; want %q", what, k, got, ok, v)
		}
	}
	if _, ok := c.Value("absent key"); ok {
		t.Fatalf("%s: Value of an absent key found it", what)
	}
	v := c.View()
	seen := map[string][]byte{}
	for k, b := range v.All {
		seen[k] = b
		if got, ok := v.Value(k); !ok || !bytes.Equal(got, b) {
			t.Fatalf("%s: View().Value(%q) = %q, %v; want %q", what, k, got, ok, b)
		}
	}
	if !sameValues(seen, values) && len(seen)+len(values) > 0 || v.Size() != Size(&meta, values)-len(meta.Principal) {
		t.Fatalf("%s: View holds %q of size %d, want %q", what, seen, v.Size(), values)
	}
	now := time.Now()
	if c.Expired(now) != meta.Expired(now) {
		t.Fatalf("%s: Expired %v, Meta.Expired %v", what, c.Expired(now), meta.Expired(now))
	}
}

func TestCompactRoundTrip(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name   string
		meta   sessionkit.Meta
		values map[string][]byte
	}{
		{"zero", sessionkit.Meta{}, nil},
		{"anonymous, no values", sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour)}, nil},
		{"logged in", sessionkit.Meta{Principal: "alice", Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour),
			IdleTimeout: 30 * time.Minute, Persistent: true, Generation: 1 << 40},
			map[string][]byte{"a": {1}, "": {2, 3}, "empty": {}, "long": bytes.Repeat([]byte{7}, 300)}},
		{"expired", sessionkit.Meta{Principal: "bob", IdleDeadline: now.Add(-time.Second), Deadline: now.Add(time.Hour)}, map[string][]byte{"k": []byte("v")}},
		{"times before 1970", sessionkit.Meta{Created: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), IdleDeadline: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), Deadline: now}, nil},
	} {
		check(t, c.name, NewCompact(&c.meta, c.values), c.meta, c.values)
	}
	var zero Compact
	if !zero.Expired(now) || zero.Principal() != "" || zero.Size() != 0 || zero.Values() != nil {
		t.Fatal("the zero Compact is not an expired anonymous session without values")
	}
}

// Far times are clamped to what Unix nanoseconds hold, which keeps their
// order against now.
func TestCompactFarTimes(t *testing.T) {
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCompact(&sessionkit.Meta{IdleDeadline: far, Deadline: far}, nil)
	if c.Expired(time.Now()) || !c.Meta().Deadline.After(time.Now().AddDate(200, 0, 0)) {
		t.Fatalf("a deadline in 9999: expired %v, kept as %v", c.Expired(time.Now()), c.Meta().Deadline)
	}
}

// Apply, With and Touched agree with the same changes made to a map, and
// leave the Compact they start from as it was.
func TestCompactChanges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	meta := sessionkit.Meta{Principal: "p", Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour), IdleTimeout: time.Hour}
	values := map[string][]byte{}
	c := NewCompact(&meta, values)
	keys := []string{"", "a", "b", "cart", "csrf", "user_id"}
	value := func() []byte {
		v := make([]byte, r.IntN(200))
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		return v
	}
	for i := range 2000 {
		before, beforeMeta, beforeValues := c, meta, maps.Clone(values)
		meta.IdleDeadline = now.Add(time.Duration(r.IntN(1000)) * time.Second)
		switch r.IntN(4) {
		case 0:
			d := sessionkit.Delta{IdleDeadline: meta.IdleDeadline}
			for range r.IntN(3) {
				k := keys[r.IntN(len(keys))]
				d.Set = append(d.Set, sessionkit.Entry{Key: k, Value: value()}) // a key twice: its last value
			}
			for range r.IntN(2) {
				d.Deleted = append(d.Deleted, keys[r.IntN(len(keys))])
			}
			if r.IntN(4) == 0 {
				m := meta
				m.Principal = []string{"", "p", "q", strings.Repeat("r", 200)}[r.IntN(4)]
				m.Generation++
				d.Meta = &m
				meta = m
			}
			for _, e := range d.Set {
				values[e.Key] = e.Value
			}
			for _, k := range d.Deleted {
				delete(values, k) // a key both set and deleted goes
			}
			c = c.Apply(&d)
		case 1:
			k := keys[r.IntN(len(keys))]
			var v []byte
			if r.IntN(3) > 0 {
				v = value()
				values[k] = v
			} else {
				delete(values, k)
			}
			c = c.With(k, v, meta.IdleDeadline)
		default:
			c = c.Touched(meta.IdleDeadline)
		}
		check(t, "change "+string(rune('0'+i%10)), c, meta, values)
		check(t, "the previous record", before, beforeMeta, beforeValues)
	}
}

// FuzzCompact: a Compact of any metadata and values gives them back, and
// so does one Apply of any delta over it, and one With.
func FuzzCompact(f *testing.F) {
	f.Add("alice", int64(1), int64(2), int64(3), int64(4), true, uint64(5), []byte("k1\x00v1\x00k2\x00"), "k1", []byte("new"))
	f.Add("", int64(0), int64(0), int64(0), int64(0), false, uint64(0), []byte{}, "", []byte(nil))
	// Just before the first time kept exactly, 1678 already east of UTC,
	// and the last times an int64 holds, which are clamped.
	before := time.Date(1677, 12, 31, 15, 0, 0, 0, time.UTC).UnixNano()
	f.Add("", before, int64(1), int64(2), int64(0), false, uint64(0), []byte{}, "", []byte(nil))
	f.Add("", int64(1), pastNanos.UnixNano()+1, int64(math.MaxInt64), int64(0), false, uint64(0), []byte{}, "", []byte(nil))
	f.Fuzz(func(t *testing.T, p string, created, idle, deadline, timeout int64, persistent bool, gen uint64, kv []byte, key string, v []byte) {
		unix := func(n int64) time.Time {
			if n == 0 {
				return time.Time{}
			}
			return time.Unix(0, n)
		}
		meta := sessionkit.Meta{Principal: p, Created: unix(created), IdleDeadline: unix(idle), Deadline: unix(deadline),
			IdleTimeout: time.Duration(timeout), Persistent: persistent, Generation: gen}
		exact := func(t time.Time) bool { return t.IsZero() || !t.Before(firstNano) && t.Before(pastNanos) }
		if !exact(meta.Created) || !exact(meta.IdleDeadline) || !exact(meta.Deadline) {
			return // kept clamped, not exactly
		}
		values := map[string][]byte{}
		for part := range bytes.SplitSeq(kv, []byte{0}) {
			if len(part) > 0 {
				values[string(part[:1])] = part[1:]
			}
		}
		c := NewCompact(&meta, values)
		check(t, "new", c, meta, values)
		d := sessionkit.Delta{IdleDeadline: meta.IdleDeadline}
		if v != nil {
			d.Set = []sessionkit.Entry{{Key: key, Value: v}}
			values[key] = v
		} else {
			d.Deleted = []string{key}
			delete(values, key)
		}
		check(t, "after a delta", c.Apply(&d), meta, values)
		check(t, "after With", c.With(key, v, meta.IdleDeadline), meta, values)
	})
}

// TestCompactApplyMany: a delta of more keys than a rebuild scans (some
// of them twice: the last value wins), over more values than it
// remembers, keeps and drops the right ones.
func TestCompactApplyMany(t *testing.T) {
	now := time.Now()
	meta := sessionkit.Meta{Principal: "alice", Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(2 * time.Hour)}
	values := map[string][]byte{}
	for i := range 100 {
		values[fmt.Sprint("k", i)] = []byte(fmt.Sprint("v", i))
	}
	c := NewCompact(&meta, values)
	d := sessionkit.Delta{IdleDeadline: now.Add(90 * time.Minute), Deleted: []string{"k3", "k70", "k99", "absent"}}
	for i, k := range []string{"k1", "k2", "k65", "k80", "new1", "new2", "k70", "k2", "new3", "k4", "new1"} {
		d.Set = append(d.Set, sessionkit.Entry{Key: k, Value: []byte(fmt.Sprint("set ", k, " ", i))})
	}
	for _, e := range d.Set {
		values[e.Key] = e.Value
	}
	for _, k := range d.Deleted {
		delete(values, k)
	}
	meta.IdleDeadline = d.IdleDeadline
	check(t, "after many", c.Apply(&d), meta, values)
}
