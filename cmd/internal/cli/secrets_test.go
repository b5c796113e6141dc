package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runMain runs the command to its end and returns its exit code and what
// it wrote to stdout and stderr.
func runMain(t *testing.T, args ...string) (code int, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code = Main(ctx, args, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// TestPasswordNotInError is the case: a Redis or PostgreSQL URL
// with a password, whose server cannot be reached. The command fails, and
// nothing it prints, neither the error nor the warning about a secret on
// the command line, holds the password: the error shows the URL
// redacted. A URL from a file or the environment gets no warning.
func TestPasswordNotInError(t *testing.T) {
	const pw = "S3cretPassw0rd"
	redisURL := "redis://:" + pw + "@127.0.0.1:1/0"
	pgURL := "postgres://app:" + pw + "@127.0.0.1:1/app?connect_timeout=1"
	cases := []struct {
		name    string
		args    []string
		env     string // SESSIONKIT_REDIS
		warning bool   // a warning about a secret on the command line
	}{
		{"redis on argv", []string{"--store", "redis", "--redis", redisURL}, "", true},
		{"bad redis URL on argv", []string{"--store", "redis", "--redis", "redis://user:" + pw + "@[bad"}, "", true},
		{"cookie with redis on argv", []string{"--store", "cookie", "--cookie-keys-file", writeSecret(t, strings.Repeat("ab", 32), 0o600), "--redis", redisURL}, "", true},
		{"postgres on argv", []string{"--store", "sql", "--postgres", pgURL}, "", true},
		{"redis from a file", []string{"--store", "redis", "--redis-file", writeSecret(t, redisURL+"\n", 0o600)}, "", false},
		{"postgres from a file", []string{"--store", "sql", "--postgres-file", writeSecret(t, pgURL+"\n", 0o600)}, "", false},
		{"redis from the environment", []string{"--store", "redis"}, redisURL, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SESSIONKIT_REDIS", c.env)
			t.Setenv("SESSIONKIT_POSTGRES", "")
			code, out := runMain(t, append([]string{"node", "--listen", "127.0.0.1:0"}, c.args...)...)
			if code == 0 {
				t.Errorf("exit 0, want a failure")
			}
			if strings.Contains(out, pw) {
				t.Errorf("the output shows the password:\n%s", out)
			}
			if warned := strings.Contains(out, "warning: -redis on the command line") || strings.Contains(out, "warning: -postgres on the command line"); warned != c.warning {
				t.Errorf("warned about the URL on the command line: %v, want %v:\n%s", warned, c.warning, out)
			}
			if !strings.Contains(out, "://xxxxx@") {
				t.Errorf("the error does not show the URL redacted:\n%s", out)
			}
		})
	}
}

func writeSecret(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func secretFlagSet(args ...string) (string, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	key := fs.String("cluster-key", "", "the key")
	err := parseSecrets(fs, args, "cluster-key")
	return *key, err
}

// TestSecretFileRefusedWhenGroupReadable: a key file that group or others
// can read is refused with an error that says so.
func TestSecretFileRefusedWhenGroupReadable(t *testing.T) {
	key := strings.Repeat("6b", 32)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		path := writeSecret(t, key+"\n", mode)
		_, err := secretFlagSet("--cluster-key-file", path)
		if !errors.Is(err, errSecretFileMode) {
			t.Errorf("mode %04o: %v, want errSecretFileMode", mode, err)
		}
	}
	// The command itself refuses it too, before it starts anything.
	path := writeSecret(t, key+"\n", 0o640)
	code, out := runMain(t, "node", "--store", "cluster", "--listen", "127.0.0.1:0", "--cluster-key-file", path)
	if code != 1 || !strings.Contains(out, "chmod 600") || !strings.Contains(out, "through the environment") || strings.Contains(out, key) {
		t.Fatalf("group-readable key file: exit %d, output:\n%s", code, out)
	}
}

func TestSecretFile(t *testing.T) {
	key := strings.Repeat("6b", 32)
	for _, mode := range []os.FileMode{0o600, 0o400} {
		got, err := secretFlagSet("--cluster-key-file", writeSecret(t, key+"\r\n", mode))
		if err != nil || got != key {
			t.Errorf("mode %04o: %q, %v; want the key", mode, got, err)
		}
	}
	if _, err := secretFlagSet("--cluster-key-file", writeSecret(t, "\n", 0o600)); err == nil {
		t.Error("an empty file was accepted")
	}
	if _, err := secretFlagSet("--cluster-key-file", t.TempDir()); err == nil {
		t.Error("a folder was accepted")
	}
	if _, err := secretFlagSet("--cluster-key-file", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
	if _, err := secretFlagSet("--cluster-key", key, "--cluster-key-file", writeSecret(t, key, 0o600)); err == nil {
		t.Error("both the flag and the file were accepted")
	}
	if got, err := secretFlagSet("--cluster-key", key); err != nil || got != key {
		t.Errorf("the flag alone: %q, %v", got, err)
	}
}

// TestSecretNotInHelp: a secret that comes from the environment is not
// printed as the flag's default by -h.
func TestSecretNotInHelp(t *testing.T) {
	const secret = "5ecret5ecret5ecret"
	t.Setenv("SESSIONKIT_CLUSTER_KEY", secret)
	t.Setenv("SESSIONKIT_ADMIN_TOKEN", secret)
	t.Setenv("SESSIONKIT_REDIS", "redis://:"+secret+"@h:1")
	for _, cmd := range []string{"node", "router", "demo"} {
		code, out := runMain(t, cmd, "-h")
		if code != 0 || strings.Contains(out, secret) {
			t.Errorf("%s -h: exit %d, output shows the secret:\n%s", cmd, code, out)
		}
	}
}
