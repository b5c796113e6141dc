package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proctest"
)

// TestImage builds the container image with `make image` and podman, and
// runs the command from the image's exported filesystem (running a
// container may not be possible on every test machine): it is a static
// binary that runs on an empty base, as an unprivileged user, with the CA
// certificates beside it. The image lives in a storage of the test's own
// (vfs: no kernel overlay needed), removed at its end. Under CI, podman
// is installed when missing.
func TestImage(t *testing.T) {
	podman := install(t, "podman", "podman")
	mk := proctest.Need(t, "Debian package make", "make")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	storage := fmt.Sprintf("--storage-driver vfs --root %s/storage --runroot %s/run", dir, dir)
	engine := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, podman, append(strings.Fields(storage), args...)...).CombinedOutput()
		return string(out), err
	}
	image := fmt.Sprintf("localhost/sessionkit-test:%d", os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"-C", root, "image", "ENGINE=" + podman, "IMAGE=" + image, "ENGINE_FLAGS=" + storage}
	// make test builds the binary under test static: the image takes it
	// rather than build it again.
	if bin := binary(t); static(bin) {
		args = append(args, "BIN="+bin)
	}
	build := exec.CommandContext(ctx, mk, args...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { engine("rmi", "--force", image) })

	if out, err := engine("image", "inspect", "--format", "{{.Config.User}}", image); err != nil || strings.TrimSpace(out) != "65532:65532" {
		t.Errorf("the image runs as %q (%v), want the unprivileged 65532:65532", strings.TrimSpace(out), err)
	}
	name := fmt.Sprintf("sessionkit-test-%d", os.Getpid())
	if out, err := engine("create", "--name", name, image); err != nil {
		t.Fatalf("podman create: %v\n%s", err, out)
	}
	t.Cleanup(func() { engine("rm", "--force", name) })
	fsTar := filepath.Join(dir, "fs.tar")
	if out, err := engine("export", "--output", fsTar, name); err != nil {
		t.Fatalf("podman export: %v\n%s", err, out)
	}
	fs := filepath.Join(dir, "fs")
	files := untar(t, fsTar, fs)
	for _, want := range []string{"usr/local/bin/sessionkit", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt"} {
		if !files[want] {
			t.Errorf("the image has no /%s", want)
		}
	}
	if len(files) > 12 {
		t.Errorf("the image holds more than the command and its few files: %d entries", len(files))
	}
	if passwd, _ := os.ReadFile(filepath.Join(fs, "etc/passwd")); !bytes.Contains(passwd, []byte("sessionkit:x:65532:65532:")) {
		t.Errorf("/etc/passwd has no sessionkit user:\n%s", passwd)
	}
	if ca, _ := os.ReadFile(filepath.Join(fs, "etc/ssl/certs/ca-certificates.crt")); !bytes.Contains(ca, []byte("BEGIN CERTIFICATE")) {
		t.Error("the image's CA bundle holds no certificate")
	}
	out, err := exec.CommandContext(ctx, filepath.Join(fs, "usr/local/bin/sessionkit"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "github.com/sessionkit/sessionkit") {
		t.Fatalf("sessionkit version from the image: %v\n%s", err, out)
	}
}

// static reports whether the executable at path is statically linked: it
// names no program interpreter (ld.so).
func static(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// untar unpacks the regular files and folders of a tar file into dir and
// returns the names of its entries.
func untar(t *testing.T, file, dir string) map[string]bool {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." || strings.HasPrefix(name, "..") {
			continue
		}
		names[name] = true
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}
	}
}

// install returns the program, installing its Debian package first when
// it is missing and the test runs under CI as root (as scripts/deps.sh
// does for the servers); elsewhere a missing program skips the test.
func install(t *testing.T, program, pkg string) string {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil && os.Getenv("CI") != "" && os.Geteuid() == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", pkg}} {
			cmd := exec.CommandContext(ctx, "apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	return proctest.Need(t, "Debian package "+pkg, program)
}
