package sqlcore

import "testing"

// merge copies the slices it is given: a caller that reuses its buffer
// after a commit does not change what the cache holds.
func TestMergeClones(t *testing.T) {
	buf := []byte("abc")
	out := merge(map[string][]byte{"a": []byte("1")}, map[string][]byte{"b": buf}, []string{"a"})
	copy(buf, "xyz")
	if got := string(out["b"]); got != "abc" {
		t.Fatalf("the cached value follows the caller's buffer: %q, want abc", got)
	}
	if _, ok := out["a"]; ok || len(out) != 1 {
		t.Fatalf("merge = %q, want only b", out)
	}
}
