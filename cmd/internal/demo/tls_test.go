package demo

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signWithCA signs a server certificate for name with the CA in dir, as
// anyone who got hold of the CA's key could.
func signWithCA(t *testing.T, caFile, caKeyFile, name string) *x509.Certificate {
	t.Helper()
	return signSANs(t, caFile, caKeyFile, &x509.Certificate{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}})
}

// signSANs signs a certificate with the names of sans (DNS names, IP
// addresses, email addresses, URIs) with the CA in dir.
func signSANs(t *testing.T, caFile, caKeyFile string, sans *x509.Certificate) *x509.Certificate {
	t.Helper()
	ca, caKey, err := loadPair(caFile, caKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := *sans
	tmpl.SerialNumber = serial()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func verifies(ca, leaf *x509.Certificate, name string) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestCACannotSignOutsideItsDomain: the demo's CA key signs a certificate
// for accounts.google.com (the case); no client that trusts the
// CA accepts it, while the demo's own certificate verifies.
func TestCACannotSignOutsideItsDomain(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, _, err := localCA(dir, "mall.test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ca, leaf := readCert(t, caFile), readCert(t, certFile)
	for _, name := range []string{"shop.mall.test", "pay.mall.test", "mall.test"} {
		if err := verifies(ca, leaf, name); err != nil {
			t.Errorf("the demo's certificate for %s: %v", name, err)
		}
	}
	caKeyFile := strings.TrimSuffix(caFile, ".pem") + "-key.pem"
	for _, name := range []string{"accounts.google.com", "mall.test.evil.com", "evilmall.test", "localhost"} {
		forged := signWithCA(t, caFile, caKeyFile, name)
		if err := verifies(ca, forged, name); err == nil {
			t.Errorf("a certificate for %s signed by the demo CA verifies", name)
		}
	}
	if inside := signWithCA(t, caFile, caKeyFile, "other.mall.test"); verifies(ca, inside, "other.mall.test") != nil {
		t.Error("a certificate inside the domain does not verify: the test proves nothing")
	}
	// Name constraints apply per type of name (RFC 5280, 4.2.1.10): a
	// constraint on DNS names says nothing of IP addresses, email
	// addresses or URIs. Each is checked without a host name to match, as
	// a client that authenticates by IP address, mailbox or URI does.
	for what, sans := range map[string]*x509.Certificate{
		"IP 8.8.8.8":                       {IPAddresses: []net.IP{net.ParseIP("8.8.8.8")}},
		"IP 127.0.0.1":                     {IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}},
		"IP 2001:4860:4860::8888":          {IPAddresses: []net.IP{net.ParseIP("2001:4860:4860::8888")}},
		"IP ::ffff:8.8.8.8 (16 bytes)":     {IPAddresses: []net.IP{net.ParseIP("::ffff:8.8.8.8").To16()}},
		"IP beside a DNS name inside":      {DNSNames: []string{"shop.mall.test"}, IPAddresses: []net.IP{net.ParseIP("8.8.8.8")}},
		"email at gmail.com":               {EmailAddresses: []string{"victim@gmail.com"}},
		"URI https://accounts.google.com/": {URIs: []*url.URL{mustURL(t, "https://accounts.google.com/")}},
		"URI spiffe://prod.example/api":    {URIs: []*url.URL{mustURL(t, "spiffe://prod.example/api")}},
		"URI with an IP host":              {URIs: []*url.URL{mustURL(t, "https://8.8.8.8/")}},
	} {
		if err := verifies(ca, signSANs(t, caFile, caKeyFile, sans), ""); err == nil {
			t.Errorf("a certificate with %s signed by the demo CA verifies", what)
		}
	}
	for what, sans := range map[string]*x509.Certificate{
		"email at mall.test":          {EmailAddresses: []string{"shop@mall.test"}},
		"URI https://shop.mall.test/": {URIs: []*url.URL{mustURL(t, "https://shop.mall.test/")}},
	} {
		if err := verifies(ca, signSANs(t, caFile, caKeyFile, sans), ""); err != nil {
			t.Errorf("a certificate with %s, inside the domain, does not verify: %v", what, err)
		}
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life > 366*24*time.Hour {
		t.Errorf("the CA lives %v, want at most a year", life)
	}
	if leaf.NotAfter.After(ca.NotAfter) {
		t.Errorf("the certificate ends %v, after its CA (%v)", leaf.NotAfter, ca.NotAfter)
	}
}

// TestCAReplacedWhenUnconstrained: an unconstrained CA of an earlier run
// (ca.pem), and a CA for another domain, are not used; the log says to
// remove the old CA from the browser.
func TestCAReplacedWhenUnconstrained(t *testing.T) {
	dir := t.TempDir()
	// The earlier version's CA: no name constraints, five years.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "sessionkit demo CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kb, _ := x509.MarshalECPrivateKey(key)
	writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", der)
	writePEM(filepath.Join(dir, "ca-key.pem"), "EC PRIVATE KEY", kb)
	// And an unconstrained CA where this version keeps mall.test's.
	writePEM(filepath.Join(dir, "mall.test-ca.pem"), "CERTIFICATE", der)
	writePEM(filepath.Join(dir, "mall.test-ca-key.pem"), "EC PRIVATE KEY", kb)

	var logs bytes.Buffer
	caFile, _, _, err := localCA(dir, "mall.test", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil {
		t.Error("the unconstrained ca.pem of an earlier run is still there")
	}
	ca := readCert(t, caFile)
	if !constrainedTo(ca, "mall.test") {
		t.Errorf("the CA in use is not constrained to mall.test: %v critical %v", ca.PermittedDNSDomains, ca.PermittedDNSDomainsCritical)
	}
	if !strings.Contains(logs.String(), "remove") || strings.Count(logs.String(), "level=WARN") != 2 {
		t.Errorf("the log does not tell to remove both old CAs from the browser:\n%s", logs.String())
	}
	// A second run reuses the CA without a warning.
	logs.Reset()
	again, _, _, _ := localCA(dir, "mall.test", slog.New(slog.NewTextHandler(&logs, nil)))
	if !readCert(t, again).Equal(ca) || logs.Len() != 0 {
		t.Errorf("the second run did not reuse the CA quietly: %s", logs.String())
	}
	// Another domain gets a CA of its own.
	other, _, _, _ := localCA(dir, "shop.example", slog.New(slog.DiscardHandler))
	if oc := readCert(t, other); oc.Equal(ca) || !constrainedTo(oc, "shop.example") {
		t.Error("another domain did not get its own constrained CA")
	}
}

// TestCAReplacedWhenConstrainedInDNSOnly: a CA of the previous version,
// constrained to the domain in DNS names only (so it could still sign
// for any IP address, mailbox or URI), is replaced, with a warning.
func TestCAReplacedWhenConstrainedInDNSOnly(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "sessionkit demo CA for mall.test"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(300 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		PermittedDNSDomains: []string{"mall.test"}, PermittedDNSDomainsCritical: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kb, _ := x509.MarshalECPrivateKey(key)
	writePEM(filepath.Join(dir, "mall.test-ca.pem"), "CERTIFICATE", der)
	writePEM(filepath.Join(dir, "mall.test-ca-key.pem"), "EC PRIVATE KEY", kb)
	old, _ := x509.ParseCertificate(der)
	if constrainedTo(old, "mall.test") {
		t.Fatal("a CA constrained in DNS names only counts as constrained")
	}

	var logs bytes.Buffer
	caFile, _, _, err := localCA(dir, "mall.test", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ca := readCert(t, caFile)
	if ca.Equal(old) || !constrainedTo(ca, "mall.test") {
		t.Error("the CA constrained in DNS names only is still in use")
	}
	if !strings.Contains(logs.String(), "remove") {
		t.Errorf("the log does not tell to remove the old CA from the browser:\n%s", logs.String())
	}
}
