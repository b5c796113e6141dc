package ringsim

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/ring"
)

func TestCommand(t *testing.T) {
	var out bytes.Buffer
	err := Command([]string{"--algo", "ring", "--nodes", "20", "--keys", "20000", "--replicas", "1", "--add", "1", "--remove", "1", "--seed", "3"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Log("\n" + got)
	for _, want := range []string{
		"algorithm ring, 20 nodes, 20000 keys, 1 backup per key",
		"balance: max/mean",
		"add 1: moved",
		"0.000% between surviving nodes",
		"previous owner keeps a copy of 100.000% of the keys the new nodes took",
		"new owner already held a copy of 100.000% of the removed nodes' keys",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	var out bytes.Buffer
	if err := Command([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "-algo") {
		t.Errorf("-h: %v, output %q", err, out.String())
	}
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{[]string{"--algo", "modulo"}, true},
		{[]string{"--nodes", "3", "--remove", "3"}, true},
		{[]string{"--bogus"}, true},
		{[]string{"--keys", "100", "extra"}, true},
		{[]string{"--algo", "maglev", "--table-size", "8"}, true},
		{[]string{"--algo", "jump", "--table-size", "8"}, false}, // only maglev uses it
		{[]string{"--nodes", "0"}, true},                         // not the default's 100
		{[]string{"--nodes", "-1"}, true},
		{[]string{"--keys", "0"}, true},
		{[]string{"--add", "-1"}, true},
	}
	for _, tt := range tests {
		out.Reset()
		err := Command(append([]string{"--keys", "100", "--nodes", "5"}, tt.args...), &out)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v, want error %v", tt.args, err, tt.wantErr)
		}
	}
}

// TestRun checks the properties the report is for, per algorithm.
func TestRun(t *testing.T) {
	for _, algo := range ring.Algorithms() {
		t.Run(string(algo), func(t *testing.T) {
			res, err := Run(Config{Ring: ring.Config{Algorithm: algo}, Nodes: 20, Keys: 20_000, Replicas: 2, Add: 2, Remove: 2, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			if res.MaxMean < 1 || res.MinMean > 1 || res.MinMean <= 0 {
				t.Errorf("balance max %.3f min %.3f", res.MaxMean, res.MinMean)
			}
			if res.Add.Optimum != 2.0/22 || res.Remove.Optimum != 2.0/20 {
				t.Errorf("optimum add %v remove %v", res.Add.Optimum, res.Remove.Optimum)
			}
			if res.Remove.Receivers == 0 || res.Remove.LargestReceiver <= 0 || res.Remove.LargestReceiver > 1 {
				t.Errorf("receivers %d, largest %v", res.Remove.Receivers, res.Remove.LargestReceiver)
			}
			if algo.HasPreferenceList() {
				if res.Add.BetweenSurvivors != 0 || res.Remove.BetweenSurvivors != 0 {
					t.Errorf("keys moved between survivors")
				}
				// Two backups cover two members leaving at once.
				if res.Remove.CopyHeld != 1 || res.Add.CopyHeld != 1 {
					t.Errorf("copy held on remove %v, add %v; want 1", res.Remove.CopyHeld, res.Add.CopyHeld)
				}
			}
		})
	}
}

func TestRunDefaults(t *testing.T) {
	res, err := Run(Config{Keys: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.Nodes != 100 || res.Add != nil || res.Remove != nil {
		t.Errorf("defaults: %+v", res)
	}
}
