package redistest

import (
	"testing"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	if r, err := Do(s.Addr(), "SET", "k", "v"); err != nil || r != "OK" {
		t.Fatalf("SET = %v, %v", r, err)
	}
	if r, err := Do(s.Addr(), "GET", "k"); err != nil || r != "v" {
		t.Fatalf("GET = %v, %v", r, err)
	}
	s.Kill()
	if _, err := Do(s.Addr(), "PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Restart()
	if r, err := Do(s.Addr(), "GET", "k"); err != nil || r != nil {
		t.Fatalf("GET after restart = %v, %v; want nil (no persistence)", r, err)
	}
}
