package router_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit/router"
)

// TestBackendTLS: a router reaches an https:// backend whose certificate
// its BackendTLS trusts, presenting its client certificate when the
// backend asks for one; a router that does not trust the backend's CA
// answers 502, on both paths.
func TestBackendTLS(t *testing.T) {
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusForbidden)
			return
		}
		io.WriteString(w, "over tls")
	}))
	backend.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	backend.StartTLS()
	defer backend.Close()
	roots := x509.NewCertPool()
	roots.AddCert(backend.Certificate())
	members := []router.Member{{Name: "n1", URL: backend.URL, Weight: 1}}
	// The backend's own certificate serves as the router's client
	// certificate: the backend asks for any.
	cert := backend.TLS.Certificates[0]

	trusting, err := router.New(router.Config{Logger: quiet, BackendTLS: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}}, members)
	if err != nil {
		t.Fatal(err)
	}
	defer trusting.Close()
	if code, body := getVia(t, trusting); code != http.StatusOK || body != "over tls" {
		t.Fatalf("through a router that trusts the backend: %d %q", code, body)
	}

	wary, err := router.New(router.Config{Logger: quiet}, members)
	if err != nil {
		t.Fatal(err)
	}
	defer wary.Close()
	if code, _ := getVia(t, wary); code != http.StatusBadGateway {
		t.Fatalf("through a router that does not trust the backend: %d, want 502", code)
	}
	// The same on the fast path, which serves it itself.
	addr, handed := fastServer(t, wary)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, _ := roundTrip(c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); got.Status != http.StatusBadGateway || handed.Load() != 0 {
		t.Fatalf("through a router that does not trust the backend, on the fast path: %v (%d connections handed over), want 502", got, handed.Load())
	}

	if _, err := router.New(router.Config{Logger: quiet, BackendTLS: &tls.Config{}, Transport: http.DefaultTransport}, members); err == nil ||
		!strings.Contains(err.Error(), "BackendTLS") {
		t.Fatalf("BackendTLS with a Transport of one's own: %v, want an error", err)
	}
}

func getVia(t *testing.T, rt *router.Router) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

// TestBackendTLSFastPath: the fast path forwards to https:// backends
// itself, with every key kind, presenting BackendTLS's client certificate,
// over pooled connections: sequential requests of one client reach the
// backend on one TLS connection, after one handshake.
func TestBackendTLSFastPath(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind.name, func(t *testing.T) {
			var handshakes, conns atomic.Int64
			backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
					http.Error(w, "no client certificate", http.StatusForbidden)
					return
				}
				io.WriteString(w, "over tls "+r.Header.Get("X-N"))
			}))
			backend.TLS = &tls.Config{
				Certificates: []tls.Certificate{backendCert()},
				ClientAuth:   tls.RequireAnyClientCert,
				VerifyConnection: func(tls.ConnectionState) error {
					handshakes.Add(1)
					return nil
				},
			}
			backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			backend.StartTLS()
			defer backend.Close()
			cfg := keyConfig(kind.keys, kind.trusted)
			cfg.BackendTLS = backendTLS("https")
			cfg.BackendTLS.Certificates = []tls.Certificate{backendCert()}
			rt, err := router.New(cfg, []router.Member{{Name: "n1", URL: backend.URL}})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			addr, handed := fastServer(t, rt)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for i := range 20 {
				req := kind.mark(fmt.Sprintf("GET /hostile HTTP/1.1\r\nHost: a\r\nX-Id: u%d\r\nX-N: %d\r\n\r\n", i%3, i))
				got, open := roundTrip(c, br, req)
				if got.Status != http.StatusOK || got.Body != "over tls "+strconv.Itoa(i) || !open {
					t.Fatalf("request %d: %v (open %v)", i, got, open)
				}
			}
			if n := handed.Load(); n != 0 {
				t.Fatalf("the fast path handed %d connections to net/http", n)
			}
			if h, n := handshakes.Load(), conns.Load(); h != 1 || n != 1 {
				t.Fatalf("20 requests in a row took %d TLS handshakes on %d connections, want 1 and 1", h, n)
			}
		})
	}
}
