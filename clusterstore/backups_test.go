package clusterstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/sessionkit/sessionkit/internal/proc"
)

// Config.Backups defaults to one backup, as the command's --backups does;
// NoBackups names plain sticky sessions.
func TestBackupsDefault(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 1}, {NoBackups, 0}, {2, 2}, {AllToAll, AllToAll}} {
		port, err := proc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(context.Background(), Config{Name: "n1", Gossip: fmt.Sprintf("127.0.0.1:%d", port), Data: "127.0.0.1:0", Key: testKey, Backups: c.in, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		got := s.cfg.Backups
		s.Close()
		if got != c.want {
			t.Errorf("Config.Backups %d: %d backups, want %d", c.in, got, c.want)
		}
	}
	if _, err := New(context.Background(), Config{Name: "n1", Key: testKey, Backups: -3, Logger: quiet}); err == nil {
		t.Error("Config.Backups -3 accepted")
	}
}
