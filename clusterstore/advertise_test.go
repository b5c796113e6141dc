package clusterstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/clusterstore/gossip"
	"github.com/sessionkit/sessionkit/internal/proc"
)

// TestBindAnyNeedsAdvertise: a node that binds every interface, gossip
// or data plane, with no address to advertise refuses to start rather
// than tell the others an address that reaches nobody.
func TestBindAnyNeedsAdvertise(t *testing.T) {
	for _, c := range []struct{ gossip, data string }{
		{"0.0.0.0:0", "127.0.0.1:0"},
		{"127.0.0.1:0", "0.0.0.0:0"},
		{"127.0.0.1:0", "[::]:0"},
	} {
		_, err := New(context.Background(), Config{Name: "n1", Gossip: c.gossip, Data: c.data, Key: testKey, Logger: quiet})
		if !errors.Is(err, gossip.ErrNoAdvertise) {
			t.Errorf("gossip %s, data %s, no Advertise: %v, want gossip.ErrNoAdvertise", c.gossip, c.data, err)
		}
	}
}

// Advertise is a host: with a port, the data plane would be advertised at
// an address nobody can reach.
func TestAdvertiseRefusesAPort(t *testing.T) {
	s, err := New(context.Background(), Config{Name: "n1", Gossip: "127.0.0.1:0", Data: "127.0.0.1:0", Advertise: "127.0.0.1:9000", Key: testKey, Logger: quiet})
	if err == nil {
		s.Close()
		t.Fatal("Advertise with a port was accepted")
	}
}

// TestAdvertise: nodes that bind every interface and advertise their
// address join, replicate over the advertised data plane, and show both
// addresses in Stats.
func TestAdvertise(t *testing.T) {
	var nodes []*Store
	t.Cleanup(func() { closeAll(nodes) })
	for i := range 2 {
		cfg := Config{Name: fmt.Sprintf("n%d", i+1), Gossip: "0.0.0.0:0", Data: "0.0.0.0:0", Advertise: "127.0.0.1", HTTP: "http://127.0.0.1:1",
			Key: testKey, Logger: quiet}
		if i > 0 {
			cfg.Join = []string{nodes[0].Stats(false).Addresses.Gossip}
		}
		s, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, s)
	}
	waitMembers(t, nodes, 2)
	for _, s := range nodes {
		a := s.Stats(false).Addresses
		for _, pair := range [][2]string{{a.GossipBound, a.Gossip}, {a.DataBound, a.Data}} {
			bhost, bport, _ := net.SplitHostPort(pair[0])
			host, port, _ := net.SplitHostPort(pair[1])
			if bhost != "0.0.0.0" || host != "127.0.0.1" || port != bport || port == "0" {
				t.Errorf("%s: bound %s, advertised %s: want 0.0.0.0 and 127.0.0.1 on one port", s.cfg.Name, pair[0], pair[1])
			}
		}
		if a.HTTP != "http://127.0.0.1:1" {
			t.Errorf("%s: HTTP %q", s.cfg.Name, a.HTTP)
		}
	}
	createSessions(t, nodes, 10, func(i int) []byte { return []byte{byte(i)} })
	if err := proc.WaitFor(5*time.Second, func() error {
		total := 0
		for _, s := range nodes {
			st := s.Stats(false)
			total += st.Owned + st.Backups
		}
		if total != 20 {
			return fmt.Errorf("%d copies, want 20", total)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseFromTiming: the lease follows the timing profile, and a lease
// that outlasts failure detection is refused.
func TestLeaseFromTiming(t *testing.T) {
	_, err := New(context.Background(), Config{Name: "n1", Gossip: "127.0.0.1:0", Data: "127.0.0.1:0", Key: testKey, Logger: quiet,
		Timing: LANTiming, Lease: LANTiming.Detect()})
	if err == nil || !strings.Contains(err.Error(), "shorter than failure detection") {
		t.Fatalf("a lease as long as failure detection: %v", err)
	}
	for name, timing := range gossip.Profiles {
		s, err := New(context.Background(), Config{Name: "n1", Gossip: "127.0.0.1:0", Data: "127.0.0.1:0", Key: testKey, Logger: quiet, Timing: timing})
		if err != nil {
			t.Fatalf("profile %s: %v", name, err)
		}
		lease, wait := s.cfg.Lease, s.cfg.FailoverWait
		s.Close()
		if lease <= 0 || lease >= timing.Detect() || wait < timing.Detect() {
			t.Errorf("profile %s: lease %v, failover wait %v, failure detection %v", name, lease, wait, timing.Detect())
		}
		if name == "local" && lease != time.Second {
			t.Errorf("profile local: lease %v, want 1s as before profiles", lease)
		}
	}
}
