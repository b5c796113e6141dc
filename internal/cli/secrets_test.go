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

// TestPasswordNotInError is the case: a Redis URL with a password
// that cannot be reached. The command fails, and nothing it prints holds
// the password.
func TestPasswordNotInError(t *testing.T) {
	const pw = "S3cretPassw0rd"
	cases := [][]string{
		{"node", "--store", "redis", "--listen", "127.0.0.1:0", "--redis", "redis://:" + pw + "@127.0.0.1:1/0"},
		{"node", "--store", "redis", "--listen", "127.0.0.1:0", "--redis", "redis://user:" + pw + "@[bad"},
		{"node", "--store", "cookie", "--listen", "127.0.0.1:0", "--cookie-keys", strings.Repeat("ab", 32), "--redis", "redis://:" + pw + "@127.0.0.1:1/0"},
		{"node", "--store", "sql", "--listen", "127.0.0.1:0", "--postgres", "postgres://app:" + pw + "@127.0.0.1:1/app?connect_timeout=1"},
	}
	for _, args := range cases {
		code, out := runMain(t, args...)
		if code == 0 {
			t.Errorf("%v: exit 0, want a failure", args)
		}
		if strings.Contains(out, pw) {
			t.Errorf("%v: the output shows the password:\n%s", args, out)
		}
		if !strings.Contains(out, "xxxxx") && !strings.Contains(out, "warning") {
			t.Errorf("%v: no redacted URL in the output:\n%s", args, out)
		}
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
	if code != 1 || !strings.Contains(out, "chmod 600") || strings.Contains(out, key) {
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
