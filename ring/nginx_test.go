package ring

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/proctest"
)

// nginxBinary finds nginx, failing under CI and skipping elsewhere when it
// is missing.
func nginxBinary(t *testing.T) string {
	t.Helper()
	return proctest.Need(t, "Debian: apt-get install nginx", "/usr/sbin/nginx", "nginx")
}

// TestNginxCompatible starts a real nginx with "hash $arg_k consistent"
// over three backends and checks that it picks Owner's member for every
// key.
func TestNginxCompatible(t *testing.T) {
	bin := nginxBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Backends answer with their own server string.
	weights := []int{1, 2, 1}
	var servers []string
	var members []Member
	for _, w := range weights {
		s := httptest.NewUnstartedServer(nil)
		name := s.Listener.Addr().String()
		s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		})
		s.Start()
		t.Cleanup(s.Close)
		members = append(members, Member{Name: name, Weight: float64(w)})
		servers = append(servers, fmt.Sprintf("server %s weight=%d;", name, w))
	}

	dir := t.TempDir()
	port := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the default, nobody, cannot write in the temp dir
	}
	conf := fmt.Sprintf(`%s
daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream backends {
		hash $arg_k consistent;
		%[3]s
	}
	server {
		listen 127.0.0.1:%[4]d;
		location / { proxy_pass http://backends; }
	}
}
`, user, dir, strings.Join(servers, "\n\t\t"), port)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", logs.String(), errLog)
		}
	})

	client := &http.Client{Timeout: 5 * time.Second}
	base := fmt.Sprintf("http://127.0.0.1:%d/", port)
	get := func(key string) (string, error) {
		resp, err := client.Get(base + "?k=" + key)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("status %s: %s", resp.Status, body)
		}
		return string(body), err
	}

	// Wait until nginx answers, or exits, or the deadline passes.
	for {
		if _, err := get("ready"); err == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("nginx exited: %v", err)
		case <-ctx.Done():
			t.Fatal("nginx did not answer in time")
		case <-time.After(20 * time.Millisecond):
		}
	}

	r := mustNew(t, Config{Algorithm: Nginx}, members)
	// Keys as a router would see them: plain words and hex token hashes.
	const keys = 2000
	counts := map[string]int{}
	for i := range keys {
		key := fmt.Sprintf("key-%d", i)
		if i%2 == 1 {
			sum := sha256.Sum256([]byte(key))
			key = hex.EncodeToString(sum[:])
		}
		got, err := get(key)
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		if want := r.OwnerString(key); got != want {
			t.Fatalf("key %q: nginx chose %s, Owner %s", key, got, want)
		}
		counts[got]++
	}
	t.Logf("%d keys placed as nginx does: %v", keys, counts)
}

// freePort returns a loopback TCP port for nginx (proc.FreePort).
func freePort(t *testing.T) int {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
