package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
)

var tlsNodeBanner = regexp.MustCompile(`^node (\S+): (https://\S+) pid (\d+)$`)

// TestNodeTLS: a node serves HTTPS with a certificate of a CA made here;
// a router given the CA (--ca-file) logs users in through it; a router
// without it fails every request with 502 and says why in its log.
func TestNodeTLS(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := testPKI(t, dir)
	node := start(t, "node", "--listen", "127.0.0.1:0", "--name", "n1", "--dev", "--tls-cert", cert, "--tls-key", key)
	m, err := node.Expect(tlsNodeBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	members := "n1=" + m[2]

	r := start(t, "router", "--listen", "127.0.0.1:0", "--members", members, "--ca-file", ca, "--access-log=false")
	rm, err := r.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, rm[1])
	if code, v := c.call("POST", "/api/login", `{"user":"alice"}`); code != 200 || v.User != "alice" || v.Node != "n1" {
		t.Fatalf("login through a router that trusts the node's CA: %d %+v", code, v)
	}
	if code, v := c.call("GET", "/api/session", ""); code != 200 || v.User != "alice" {
		t.Fatalf("the session through the router: %d %+v", code, v)
	}

	wary := start(t, "router", "--listen", "127.0.0.1:0", "--members", members, "--health-interval", "10s", "--access-log=false")
	wm, err := wary.Expect(routerBanner, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := newClient(t, wm[1]).http.Get(wm[1] + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("through a router without the node's CA: %d, want 502", resp.StatusCode)
	}
	// The log line is written before the response, but read from the
	// router's stderr by another goroutine.
	if err := proc.WaitFor(5*time.Second, func() error {
		if !strings.Contains(wary.Output(), "certificate signed by unknown authority") {
			return errors.New("the router's log does not say the node's certificate is not trusted")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, wary.Output())
	}
}

// testPKI writes a CA's certificate, and a certificate for 127.0.0.1
// signed by it with its key, to dir; it returns their paths. The keys
// live only as long as the test.
func testPKI(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sessionkit test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	nodeKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "n1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &nodeKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, kind string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("node.pem", "CERTIFICATE", der), write("node-key.pem", "EC PRIVATE KEY", keyDER)
}
