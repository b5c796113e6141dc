package pgstore

import (
	"strings"
	"testing"
)

// Payloads parse without panicking; what parses prints back in canonical
// form and parses to the same notification.
func FuzzParseNotification(f *testing.F) {
	id := strings.Repeat("ab", 32)
	for _, p := range []string{id, id + " 7", strings.ToUpper(id) + " 1", "h 123 9", "h 1", "h x 1", id + " -1", id + " 0", id[:63], "", " ", id + " 9223372036854775807", id + " 9223372036854775808", "h 4294967296 1", "h 18446744073709551616 1", "flush", "flush 1"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n, ok := parseNotification(p)
		if !ok {
			return
		}
		s := n.String()
		m, ok := parseNotification(s)
		if !ok || m != n {
			t.Fatalf("%q parsed to %+v, printed %q, parsed back to %+v, %v", p, n, s, m, ok)
		}
		if n.version < 0 {
			t.Fatalf("%q: negative version %d", p, n.version)
		}
	})
}

func TestParseNotification(t *testing.T) {
	id := strings.Repeat("0f", 32)
	for _, c := range []struct {
		in   string
		want notification
		ok   bool
	}{
		{id + " 42", notification{id: [32]byte{0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f}, version: 42}, true},
		{"h 7 3", notification{heartbeat: true, nonce: 7, seq: 3}, true},
		{"h 18446744073709551615 3", notification{heartbeat: true, nonce: 1<<64 - 1, seq: 3}, true},
		{"flush", notification{flush: true}, true},
		{"flush ", notification{}, false},
		{id + " 0", notification{}, false},
		{id + " x", notification{}, false},
		{"h 7", notification{}, false},
		{"zz" + id[2:], notification{}, false},
	} {
		got, ok := parseNotification(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseNotification(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
