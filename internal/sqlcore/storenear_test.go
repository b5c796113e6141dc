package sqlcore

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// merge copies the slices it is given: a caller that reuses its buffer
// after a commit does not change what the cache holds.
func TestMergeClones(t *testing.T) {
	buf := []byte("abc")
	out := merge(map[string][]byte{"a": []byte("1")}, []sessionkit.Entry{{Key: "b", Value: buf}}, []string{"a"})
	copy(buf, "xyz")
	if got := string(out["b"]); got != "abc" {
		t.Fatalf("the cached value follows the caller's buffer: %q, want abc", got)
	}
	if _, ok := out["a"]; ok || len(out) != 1 {
		t.Fatalf("merge = %q, want only b", out)
	}
}

// Flush empties the cache and refuses the fills begun before it, but
// the cache keeps serving what is filled afterwards.
func TestCacheFlush(t *testing.T) {
	id := [32]byte{3}
	c := serving(CacheConfig{MaxLag: time.Hour})
	f, _ := c.begin(id, time.Now())
	g, _ := c.begin(id, time.Now())
	c.finish(id, f, 1, liveRow(), map[string][]byte{})
	c.Flush()
	if _, ok := c.version(id); ok {
		t.Fatal("served after a flush")
	}
	c.finish(id, g, 2, liveRow(), map[string][]byte{})
	if _, ok := c.version(id); ok {
		t.Fatal("a fill begun before the flush was installed")
	}
	f, _ = c.begin(id, time.Now())
	c.finish(id, f, 3, liveRow(), map[string][]byte{})
	if v, ok := c.version(id); !ok || v != 3 {
		t.Fatalf("after the flush, a fill at 3: %d, %v", v, ok)
	}
}
