package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/redistest"
)

// TestNodeReadyzReason: with the node's Redis down, the shop's /readyz,
// which anyone reaches through the router, answers 503 "not ready"
// without the reason, which may name Redis's address; the admin listener's
// /readyz, behind its token, gives the reason.
func TestNodeReadyzReason(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("SESSIONKIT_REDIS", srv.URL())
	url, admin, token := startAdminNode(t, "--store", "redis")
	if code, body := get(t, url+"/readyz", ""); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz with Redis up: %d %q", code, body)
	}
	srv.Kill()
	waitStatus(t, url+"/readyz", http.StatusServiceUnavailable, "/readyz with Redis down")
	if code, body := get(t, url+"/readyz", ""); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != "not ready" {
		t.Fatalf("the shop's /readyz with Redis down: %d %q, want 503 \"not ready\" and no reason", code, body)
	}
	if code, _ := get(t, admin+"/readyz", ""); code != http.StatusUnauthorized {
		t.Fatalf("the admin listener's /readyz without the token: %d, want 401", code)
	}
	// The reason: a dial error that names Redis's address, or the EOF
	// of the connection the kill closed.
	if code, body := get(t, admin+"/readyz", token); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: redisstore: ") {
		t.Fatalf("the admin listener's /readyz with Redis down: %d %q, want 503 with the reason", code, body)
	}
}
