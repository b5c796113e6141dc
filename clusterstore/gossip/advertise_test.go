package gossip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proctest"
)

// TestAdvertised: what a member advertises, from what it binds and what
// it is told.
func TestAdvertised(t *testing.T) {
	for _, c := range []struct {
		bind, advertise string
		host            string
		port            int
		err             string
	}{
		{"127.0.0.1:7946", "", "127.0.0.1", 0, ""},
		{"10.1.2.3:7946", "", "10.1.2.3", 0, ""},
		{"[::1]:7946", "", "::1", 0, ""},
		{"0.0.0.0:7946", "10.1.2.3", "10.1.2.3", 0, ""},
		{"0.0.0.0:7946", "10.1.2.3:17946", "10.1.2.3", 17946, ""},
		{"[::]:7946", "fd00::7", "fd00::7", 0, ""},
		{"[::]:7946", "[fd00::7]", "fd00::7", 0, ""},
		{"[::]:7946", "[fd00::7]:7000", "fd00::7", 7000, ""},
		{"0.0.0.0:7946", "localhost", "", 0, ""}, // resolved: 127.0.0.1 or ::1
		{"0.0.0.0:7946", "", "", 0, "unspecified bind address"},
		{"[::]:7946", "", "", 0, "unspecified bind address"},
		{":7946", "", "", 0, "unspecified bind address"},
		{"0.0.0.0:7946", "0.0.0.0", "", 0, "reaches nobody"},
		{"127.0.0.1", "", "", 0, "missing port"},
		{"127.0.0.1:7946", "10.1.2.3", "", 0, "only this machine reaches"},
		{"[::1]:7946", "fd00::7", "", 0, "only this machine reaches"},
		{"127.0.0.1:7946", "127.0.0.2", "127.0.0.2", 0, ""},
	} {
		host, port, err := Advertised(context.Background(), c.bind, c.advertise)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Advertised(%q, %q): %v, want an error with %q", c.bind, c.advertise, err, c.err)
			}
			if c.err == "unspecified bind address" && !errors.Is(err, ErrNoAdvertise) {
				t.Errorf("Advertised(%q, %q): %v is not ErrNoAdvertise", c.bind, c.advertise, err)
			}
		case err != nil:
			t.Errorf("Advertised(%q, %q): %v", c.bind, c.advertise, err)
		case c.host == "" && net.ParseIP(host) == nil || c.host != "" && host != c.host || port != c.port:
			t.Errorf("Advertised(%q, %q) = %q, %d, want %q, %d", c.bind, c.advertise, host, port, c.host, c.port)
		}
	}
}

// TestBindAnyAdvertise: a member that binds every interface advertises
// the address it is given, and another joins it there; one that binds
// every interface with nothing to advertise refuses to start.
func TestBindAnyAdvertise(t *testing.T) {
	_, err := Join(context.Background(), Config{Self: Member{Name: "n0", Role: RoleNode}, Bind: "0.0.0.0:0", Key: testKey, Logger: quiet}, nil)
	if !errors.Is(err, ErrNoAdvertise) {
		t.Fatalf("Join binding 0.0.0.0 without Advertise: %v, want ErrNoAdvertise", err)
	}
	node, err := Join(context.Background(), Config{
		Self: Member{Name: "n1", Role: RoleNode, HTTP: "http://127.0.0.1:2", Weight: 1, Boot: 1},
		Bind: "0.0.0.0:0", Advertise: "127.0.0.1", Key: testKey, Logger: quiet,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Leave(time.Second)
	host, port, err := net.SplitHostPort(node.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("the member advertises %q, want 127.0.0.1 with the port it took", node.Addr())
	}
	if want := net.JoinHostPort("0.0.0.0", port); node.BoundAddr() != want {
		t.Fatalf("the member says it binds %q, want %q", node.BoundAddr(), want)
	}
	joinAndSee(t, node.Addr(), "127.0.0.1:0", "", "n1")
}

// TestIPv6: members bound to an IPv6 address gossip and join over it.
func TestIPv6(t *testing.T) {
	proctest.NeedIPv6(t)
	node, err := Join(context.Background(), Config{
		Self: Member{Name: "n1", Role: RoleNode, HTTP: "http://[::1]:2", Weight: 1, Boot: 1},
		Bind: "[::]:0", Advertise: "::1", Key: testKey, Logger: quiet,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Leave(time.Second)
	if !strings.HasPrefix(node.Addr(), "[::1]:") {
		t.Fatalf("the member advertises %q, want [::1]:PORT", node.Addr())
	}
	joinAndSee(t, node.Addr(), "[::1]:0", "", "n1")
}

// joinAndSee joins a router through seed and waits until it sees name.
func joinAndSee(t *testing.T, seed, bind, advertise, name string) {
	t.Helper()
	seen := make(chan struct{})
	var once sync.Once
	router, err := Join(context.Background(), Config{
		Self: Member{Name: "r1", Role: RoleRouter}, Bind: bind, Advertise: advertise,
		Join: []string{seed}, Key: testKey, Logger: quiet,
	}, func(members []Member) {
		for _, m := range members {
			if m.Name == name {
				once.Do(func() { close(seen) })
			}
		}
	})
	if err != nil {
		t.Fatalf("join through %s: %v", seed, err)
	}
	defer router.Leave(time.Second)
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatalf("the router never saw %s through %s", name, seed)
	}
}

// TestProfiles: every profile detects failure later than a probe can
// time out, and unknown names are refused.
func TestProfiles(t *testing.T) {
	for name, p := range Profiles {
		got, err := Profile(name)
		if err != nil || got != p {
			t.Errorf("Profile(%q) = %+v, %v", name, got, err)
		}
		if p.ProbeTimeout >= p.ProbeInterval || p.Detect() <= p.ProbeInterval || p.TCPTimeout <= 0 || p.GossipInterval <= 0 || p.PushPullInterval <= 0 {
			t.Errorf("profile %s is inconsistent: %+v", name, p)
		}
	}
	if LocalTiming.Detect() >= LANTiming.Detect() || LANTiming.Detect() >= WANTiming.Detect() {
		t.Errorf("the profiles do not detect failure ever later from local to wan")
	}
	if _, err := Profile("fast"); err == nil || !strings.Contains(err.Error(), "local, lan or wan") {
		t.Errorf("Profile(fast): %v, want an error naming the profiles", err)
	}
	// A Timing of one's own keeps memberlist's other timings at their
	// defaults.
	own := Timing{ProbeInterval: time.Second, ProbeTimeout: time.Second / 2, SuspicionMult: 5}.withDefaults()
	if own.GossipInterval != LocalTiming.GossipInterval || own.TCPTimeout != LocalTiming.TCPTimeout || own.Detect() != 5*time.Second {
		t.Errorf("withDefaults: %+v", own)
	}
}

// Members of different timing profiles would declare each other dead at
// different times: a member that meets one logs a warning.
func TestProfileMismatchWarned(t *testing.T) {
	var logs proctest.Buffer
	lan := LocalTiming
	lan.SuspicionMult++ // another profile: it detects later
	a, err := Join(context.Background(), Config{Self: Member{Name: "a", Role: RoleNode, HTTP: "http://127.0.0.1:2", Weight: 1, Boot: 1},
		Bind: "127.0.0.1:0", Key: testKey, Timing: LocalTiming, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Leave(time.Second)
	b, err := Join(context.Background(), Config{Self: Member{Name: "b", Role: RoleRouter},
		Bind: "127.0.0.1:0", Join: []string{a.Addr()}, Key: testKey, Timing: lan, Logger: quiet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Leave(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "same --gossip-profile") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning of another profile; the log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
