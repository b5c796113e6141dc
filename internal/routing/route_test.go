package routing

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	for _, tok := range []string{"", "abc", strings.Repeat("x", 43), strings.Repeat("y", 64), strings.Repeat("z", 65), strings.Repeat("w", 5000)} {
		want := sha256.Sum256([]byte(tok))
		if got := Key(tok); got != want {
			t.Errorf("Key(string of %d) = %x, want %x", len(tok), got, want)
		}
		if got := Key([]byte(tok)); got != want {
			t.Errorf("Key(bytes of %d) = %x, want %x", len(tok), got, want)
		}
	}
}

func TestChunkNames(t *testing.T) {
	for i := range MaxChunk + 1 {
		name := ChunkName("session", i)
		if i == 0 && name != "session" || i > 0 && name != fmt.Sprintf("session.%d", i) {
			t.Errorf("ChunkName(session, %d) = %q", i, name)
		}
		suffix := strings.TrimPrefix(name, "session")
		if got := ChunkIndex(suffix); got != i {
			t.Errorf("ChunkIndex(%q) = %d, want %d", suffix, got, i)
		}
		if got := ChunkIndex([]byte(suffix)); got != i {
			t.Errorf("ChunkIndex([]byte(%q)) = %d, want %d", suffix, got, i)
		}
	}
	for _, bad := range []string{".", ".0", ".00", ".01", ".100", "1", ".a", ".1a", "x", "..1"} {
		if got := ChunkIndex(bad); got != -1 {
			t.Errorf("ChunkIndex(%q) = %d, want -1", bad, got)
		}
	}
}
