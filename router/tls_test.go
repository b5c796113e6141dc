package router_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/router"
)

// TestBackendTLS: a router reaches an https:// backend whose certificate
// its BackendTLS trusts, presenting its client certificate when the
// backend asks for one; a router that does not trust the backend's CA
// answers 502.
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
