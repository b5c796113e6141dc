package router_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proctest"

	"github.com/sessionkit/sessionkit/router"
)

// TestKeyNeedsAName: a key source that takes a name says so when it has
// none.
func TestKeyNeedsAName(t *testing.T) {
	for spec, want := range map[string]string{
		"cookie": "cookie needs a name", "header": "header needs a name", "query": "query needs a name",
		"token:x": "token takes no name", "ip:x": "ip takes no name",
	} {
		_, err := router.New(router.Config{Keys: []string{spec}, Logger: quiet}, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("key %q: %v, want %q", spec, err, want)
		}
	}
}

// TestNoHealthyBackendLogged: a 503 for want of a backend is access-logged
// on both paths.
func TestNoHealthyBackendLogged(t *testing.T) {
	for _, path := range []string{"fast", "net/http"} {
		var log proctest.Buffer
		rt, err := router.New(router.Config{Logger: quiet, AccessLog: slog.New(slog.NewTextHandler(&log, nil))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close() })
		url := serveOn(t, rt, path)
		resp, err := http.Get(url + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(log.String(), "status=503") || !strings.Contains(log.String(), "path=/x") {
			t.Errorf("%s: %d, access log %q", path, resp.StatusCode, log.String())
		}
	}
}

// TestRuntimeMetrics: the router's own registry has the Go runtime's and
// the process's metrics.
func TestRuntimeMetrics(t *testing.T) {
	rt, err := router.New(router.Config{Logger: quiet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if metric(t, rt, name) == "" {
			t.Errorf("no %s", name)
		}
	}
}

// TestHTTP2OverTLS: clients speaking HTTP/2 over TLS are served, bodies
// and all, and the backend learns the request came over HTTPS.
func TestHTTP2OverTLS(t *testing.T) {
	rt, err := router.New(router.Config{Logger: quiet, Health: router.HealthConfig{Interval: time.Hour}},
		[]router.Member{{Name: "n1", URL: echoBackend(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	srv := httptest.NewUnstartedServer(rt)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := srv.Client()
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, srv.URL+"/h2?q=1", strings.NewReader("payload"))
		if method == "GET" {
			req.Body = nil
		}
		req.AddCookie(&http.Cookie{Name: "__Host-session", Value: "tok"})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("%s: %s %d", method, resp.Proto, resp.StatusCode)
		}
		var seen struct {
			Method, URI string
			Header      http.Header
			Body        string
		}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&seen); err != nil {
			t.Fatalf("%s: %v: %s", method, err, body)
		}
		wantBody := ""
		if method == "POST" {
			wantBody = "payload"
		}
		if seen.Method != method || seen.URI != "/h2?q=1" || seen.Body != wantBody || seen.Header.Get("X-Forwarded-Proto") != "https" {
			t.Fatalf("%s: the backend saw %+v", method, seen)
		}
	}
}
