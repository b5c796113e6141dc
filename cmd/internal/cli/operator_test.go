package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersion: "sessionkit version", --version and -version print the
// module's version, the VCS revision, whether the tree was modified and
// the Go version. A test binary, like one built with -buildvcs=false, has
// no revision: the output says "unknown" rather than leaving it out.
func TestVersion(t *testing.T) {
	shape := regexp.MustCompile(`^sessionkit (\S+)
module:    \S+
revision:  ([0-9a-f]{40}|unknown)
modified:  (true|false|unknown)
committed: \S+
go:        go\S+ \w+/\w+
$`)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out := runMain(t, args...)
		if code != 0 || !shape.MatchString(out) {
			t.Errorf("%q: exit %d, output:\n%s", args, code, out)
		}
	}
	if code, _ := runMain(t, "version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}

	// A release build: every field from the build information.
	var b bytes.Buffer
	writeVersion(&b, &debug.BuildInfo{
		GoVersion: "go1.26.1",
		Main:      debug.Module{Path: "github.com/sessionkit/sessionkit/cmd", Version: "v0.1.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: strings.Repeat("ab", 20)},
			{Key: "vcs.modified", Value: "true"},
			{Key: "vcs.time", Value: "2026-12-06T10:00:00Z"},
		},
	})
	for _, want := range []string{"sessionkit v0.1.0\n", "revision:  " + strings.Repeat("ab", 20) + "\n", "modified:  true\n", "committed: 2026-12-06T10:00:00Z\n", "go:        go1.26.1 "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("release build: no %q in:\n%s", want, b.String())
		}
	}
	// No build information at all: it says what it does not know.
	b.Reset()
	writeVersion(&b, nil)
	if !shape.MatchString(b.String()) || strings.Count(b.String(), "unknown") != 4 {
		t.Errorf("no build information:\n%s", b.String())
	}
	if code, out := runMain(t, "help"); code != 0 || !strings.Contains(out, "sessionkit version") || !strings.Contains(out, "SESSIONKIT_") {
		t.Errorf("the usage does not show the version command and the environment: exit %d\n%s", code, out)
	}
}

// TestLogFormatJSON: with --log-format json every line the node logs is
// a JSON object; here the warning it logs at start.
func TestLogFormatJSON(t *testing.T) {
	_, _, _, log, stop := startNodeLog(t, "node", "--listen", "127.0.0.1:0", "--dev", "--create-limit", "1,5", "--log-format", "json")
	stop()
	checkJSONLog(t, log.String())
}

// checkJSONLog checks that every line of out is a JSON log record and
// that one is the warning about -create-limit without -trusted-proxies.
func checkJSONLog(t *testing.T, out string) {
	t.Helper()
	warned := false
	for line := range strings.Lines(out) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a log line is not JSON (%v): %s", err, line)
			continue
		}
		if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("a log line lacks time, level or msg: %s", line)
		}
		if msg, _ := rec["msg"].(string); rec["level"] == "WARN" && strings.Contains(msg, "-trusted-proxies") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no JSON warning about -create-limit without -trusted-proxies in:\n%s", out)
	}
}

// TestLogFormatRefused: every long-running command refuses a format it
// does not know, naming the two it does, before it starts anything.
func TestLogFormatRefused(t *testing.T) {
	for _, cmd := range []string{"node", "router", "demo"} {
		code, out := runMain(t, cmd, "--listen", "127.0.0.1:0", "--log-format", "xml")
		if code != 1 || !strings.Contains(out, `bad log format "xml": use text or json`) {
			t.Errorf("%s --log-format xml: exit %d, output:\n%s", cmd, code, out)
		}
	}
}

// TestEnvironment: a flag left off the command line takes the value of
// SESSIONKIT_<FLAG>; the command line wins over it.
func TestEnvironment(t *testing.T) {
	t.Setenv("SESSIONKIT_NAME", "from-env")
	t.Setenv("SESSIONKIT_LOG_FORMAT", "json")
	t.Setenv("SESSIONKIT_CREATE_LIMIT", "1,5")
	url, _, _, log, stop := startNodeLog(t, "node", "--listen", "127.0.0.1:0", "--dev")
	if _, v := newClient(t, url).call("GET", "/api/session", ""); v["node"] != "from-env" {
		t.Errorf("node name %v, want from-env, from $SESSIONKIT_NAME", v["node"])
	}
	stop()
	checkJSONLog(t, log.String()) // -log-format and -create-limit from the environment

	url, _, _, log, stop = startNodeLog(t, "node", "--listen", "127.0.0.1:0", "--dev", "--name", "from-flag", "--log-format", "text")
	if _, v := newClient(t, url).call("GET", "/api/session", ""); v["node"] != "from-flag" {
		t.Errorf("node name %v, want from-flag: the command line wins", v["node"])
	}
	stop()
	if out := log.String(); !strings.Contains(out, "level=WARN") {
		t.Errorf("-log-format text on the command line did not win:\n%s", out)
	}

	// ring simulate reads the environment too.
	t.Setenv("SESSIONKIT_NODES", "7")
	t.Setenv("SESSIONKIT_KEYS", "2000")
	if code, out := runMain(t, "ring", "simulate"); code != 0 || !strings.Contains(out, "7 nodes, 2000 keys") {
		t.Errorf("ring simulate with $SESSIONKIT_NODES=7: exit %d\n%s", code, out)
	}
	if code, out := runMain(t, "ring", "simulate", "--nodes", "9"); code != 0 || !strings.Contains(out, "9 nodes, 2000 keys") {
		t.Errorf("ring simulate --nodes 9 with $SESSIONKIT_NODES=7: exit %d\n%s", code, out)
	}
}

// TestEnvironmentBadValue: a variable whose value the flag refuses is an
// error naming the variable, the flag and what it wants, and not the
// value, which could be a secret.
func TestEnvironmentBadValue(t *testing.T) {
	const value = "s3cr3t-value"
	for _, c := range []struct{ cmd, variable, flag, wants string }{
		{"node", "SESSIONKIT_MAX_SESSIONS", "-max-sessions", "a whole number"},
		{"node", "SESSIONKIT_DEV", "-dev", "true or false"},
		{"router", "SESSIONKIT_HEALTH_INTERVAL", "-health-interval", "a duration"},
		{"router", "SESSIONKIT_BOUNDED_LOAD", "-bounded-load", "a number"},
		{"ring", "SESSIONKIT_NODES", "-nodes", "a whole number"},
	} {
		t.Run(c.variable, func(t *testing.T) {
			t.Setenv(c.variable, value)
			args := []string{c.cmd, "--listen", "127.0.0.1:0"}
			if c.cmd == "ring" {
				args = []string{"ring", "simulate"}
			}
			code, out := runMain(t, args...)
			if code != 1 || !strings.Contains(out, "$"+c.variable+": "+c.flag+" wants "+c.wants) {
				t.Errorf("exit %d, output:\n%s", code, out)
			}
			if strings.Contains(out, value) {
				t.Errorf("the error shows the value:\n%s", out)
			}
		})
	}
}

// TestEnvironmentSecrets: a secret's file, from the command line or the
// environment, wins over the secret's own variable; the command line
// wins over both, and a secret from the environment draws no warning.
func TestEnvironmentSecrets(t *testing.T) {
	envKey, fileKey, argKey := strings.Repeat("e1", 32), strings.Repeat("f2", 32), strings.Repeat("a3", 32)
	file := writeSecret(t, fileKey+"\n", 0o600)
	t.Setenv("SESSIONKIT_CLUSTER_KEY", envKey)
	if got, err := secretFlagSet(); err != nil || got != envKey {
		t.Errorf("the variable alone: %q, %v", got, err)
	}
	if got, err := secretFlagSet("--cluster-key-file", file); err != nil || got != fileKey {
		t.Errorf("-cluster-key-file and the variable: %q, %v; want the file's", got, err)
	}
	if got, err := secretFlagSet("--cluster-key", argKey); err != nil || got != argKey {
		t.Errorf("-cluster-key and the variable: %q, %v; want the flag's", got, err)
	}
	t.Setenv("SESSIONKIT_CLUSTER_KEY_FILE", file)
	if got, err := secretFlagSet(); err != nil || got != fileKey {
		t.Errorf("both variables: %q, %v; want the file's", got, err)
	}
	if got, err := secretFlagSet("--cluster-key", argKey); err != nil || got != argKey {
		t.Errorf("-cluster-key and both variables: %q, %v; want the flag's", got, err)
	}
}

// TestHelpShowsEnvironment: -h prints each flag with its variable.
func TestHelpShowsEnvironment(t *testing.T) {
	for cmd, want := range map[string][]string{
		"node":          {"  -members STRING (env SESSIONKIT_MEMBERS)\n", "  -cluster-key-file FILE (env SESSIONKIT_CLUSTER_KEY_FILE)\n", "  -dev (env SESSIONKIT_DEV)\n", "  -log-format STRING (env SESSIONKIT_LOG_FORMAT)\n", `(default "info")`},
		"router":        {"  -members-file FILE (env SESSIONKIT_MEMBERS_FILE)\n", "  -health-interval DURATION (env SESSIONKIT_HEALTH_INTERVAL)\n", "(default 1s)", "  -log-format STRING (env SESSIONKIT_LOG_FORMAT)\n"},
		"demo":          {"  -nodes INT (env SESSIONKIT_NODES)\n", "  -log-format STRING (env SESSIONKIT_LOG_FORMAT)\n"},
		"lab":           {"  -simulate (env SESSIONKIT_SIMULATE)\n"},
		"ring simulate": {"usage: sessionkit ring simulate [flags]", "  -algo STRING (env SESSIONKIT_ALGO)\n", "(default 100)"},
	} {
		code, out := runMain(t, append(strings.Fields(cmd), "-h")...)
		if code != 0 {
			t.Errorf("%s -h: exit %d", cmd, code)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s -h lacks %q:\n%s", cmd, w, out)
			}
		}
	}
}

// TestMessagesSayWhatToType: the messages an operator met that did not
// say how to put it right.
func TestMessagesSayWhatToType(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"router members with commas", []string{"router", "--listen", "127.0.0.1:0", "--members", "a=http://127.0.0.1:1,b=http://127.0.0.1:2"},
			[]string{"-members: members are separated by spaces, not commas", `-members "a=http://10.0.0.1:8081 b=http://10.0.0.2:8081"`}},
		{"node members with commas", []string{"node", "--listen", "127.0.0.1:0", "--name", "a", "--members", "a=http://127.0.0.1:1,b=http://127.0.0.1:2"},
			[]string{"-members: members are separated by spaces, not commas"}},
		{"router bad member", []string{"router", "--listen", "127.0.0.1:0", "--members", "a"},
			[]string{"-members: router: member", `want "name=URL[,weight]" separated by spaces`}},
		{"router missing members file", []string{"router", "--listen", "127.0.0.1:0", "--members-file", "/nonexistent"},
			[]string{"-members-file: open /nonexistent: no such file or directory"}},
		{"ring no nodes", []string{"ring", "simulate", "--nodes", "0"}, []string{"-nodes 0: want 1 or more, e.g. -nodes 100"}},
		{"ring negative nodes", []string{"ring", "simulate", "--nodes", "-3"}, []string{"-nodes -3: want 1 or more"}},
		{"ring no keys", []string{"ring", "simulate", "--keys", "0"}, []string{"-keys 0: want 1 or more"}},
		{"ring negative replicas", []string{"ring", "simulate", "--replicas", "-1"}, []string{"-replicas -1: want 0 or more"}},
		{"ring unknown algorithm", []string{"ring", "simulate", "--algo", "foo"}, []string{`-algo "foo": want one of ring, nginx, rendezvous, maglev, jump`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := runMain(t, c.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
		})
	}
}
