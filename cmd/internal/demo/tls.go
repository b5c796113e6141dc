package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Lifetimes of the demo's certificates: the CA at most a year, so that a
// forgotten import stops mattering; the site's certificate at most 90
// days and never past its CA.
const (
	caLifetime   = 365 * 24 * time.Hour
	leafLifetime = 90 * 24 * time.Hour
	// caRenewBefore replaces a CA this close to its end, so that a
	// leaf made from it is not cut short.
	caRenewBefore = 30 * 24 * time.Hour
)

// localCA returns the demo's certificate authority for domain, made on
// first use in dir (DOMAIN-ca.pem and DOMAIN-ca-key.pem), and writes a
// certificate for domain and its subdomains signed by it (DOMAIN.pem,
// DOMAIN-key.pem). Browsers trust the demo's sites once the CA is
// imported. The CA is name-constrained to domain (critically, in DNS
// names, email addresses and URIs, and no IP address at all), so its key
// can sign for nothing else that a client would accept.
//
// A CA of an earlier version (ca.pem, without name constraints; or
// constrained in DNS names only), one that is not constrained to domain,
// or one near its end, is replaced; the log then tells the user to
// remove the old one from the browser.
func localCA(dir, domain string, log *slog.Logger) (caFile, certFile, keyFile string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", "", err
	}
	old, oldKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if _, err := os.Stat(old); err == nil {
		if err := errors.Join(os.Remove(old), os.Remove(oldKey)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", "", "", fmt.Errorf("demo CA in %s: remove the unconstrained CA of an earlier run: %w", dir, err)
		}
		log.Warn("demo: removed the demo CA of an earlier run, which could sign for any name; remove \"sessionkit demo CA\" from your browser's or system's trusted certificates too", "file", old)
	}
	caFile, caKeyFile := filepath.Join(dir, domain+"-ca.pem"), filepath.Join(dir, domain+"-ca-key.pem")
	now := time.Now()
	ca, caKey, err := loadPair(caFile, caKeyFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		ca, caKey, err = newCA(caFile, caKeyFile, domain, now)
	case err == nil && !constrainedTo(ca, domain):
		log.Warn("demo: replacing a demo CA that is not constrained to the domain in every type of name; remove the old one from your browser's trusted certificates", "file", caFile, "domain", domain)
		ca, caKey, err = newCA(caFile, caKeyFile, domain, now)
	case err == nil && ca.NotAfter.Before(now.Add(caRenewBefore)):
		log.Warn("demo: the demo CA ends soon; made a new one: import it, and remove the old one from your browser's trusted certificates", "file", caFile, "ends", ca.NotAfter)
		ca, caKey, err = newCA(caFile, caKeyFile, domain, now)
	}
	if err != nil {
		return "", "", "", fmt.Errorf("demo CA in %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	notAfter := now.Add(leafLifetime)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "*." + domain},
		DNSNames:     []string{domain, "*." + domain},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	certFile, keyFile = filepath.Join(dir, domain+".pem"), filepath.Join(dir, domain+"-key.pem")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return "", "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	return caFile, certFile, keyFile, writePEM(keyFile, "EC PRIVATE KEY", kb)
}

// nameConstraints sets on ca the constraints of a demo CA for domain:
// critical, and one for each type of name a certificate can hold, since
// RFC 5280 applies each constraint to its own type only (a CA constrained
// to DNS names under domain could still sign for the IP address 8.8.8.8
// or the mailbox victim@gmail.com). DNS names, email addresses and URIs
// must be domain or under it; no IP address is permitted, since the
// demo's certificate names its hosts by DNS name only.
func nameConstraints(ca *x509.Certificate, domain string) {
	under := []string{domain, "." + domain}
	ca.PermittedDNSDomainsCritical = true
	ca.PermittedDNSDomains = []string{domain}
	ca.ExcludedIPRanges = []*net.IPNet{
		{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
	}
	ca.PermittedEmailAddresses = under
	ca.PermittedURIDomains = under
}

// constrainedTo reports whether the CA may sign for domain and nothing
// else: exactly the constraints nameConstraints sets, so that a CA of an
// earlier version, constrained in DNS names only, is replaced.
func constrainedTo(ca *x509.Certificate, domain string) bool {
	var want x509.Certificate
	nameConstraints(&want, domain)
	ipnets := func(l []*net.IPNet) []string {
		var out []string
		for _, n := range l {
			out = append(out, n.String())
		}
		return out
	}
	return ca.PermittedDNSDomainsCritical &&
		slices.Equal(ca.PermittedDNSDomains, want.PermittedDNSDomains) && len(ca.ExcludedDNSDomains) == 0 &&
		len(ca.PermittedIPRanges) == 0 && slices.Equal(ipnets(ca.ExcludedIPRanges), ipnets(want.ExcludedIPRanges)) &&
		slices.Equal(ca.PermittedEmailAddresses, want.PermittedEmailAddresses) &&
		slices.Equal(ca.PermittedURIDomains, want.PermittedURIDomains) &&
		ca.NotAfter.Sub(ca.NotBefore) <= caLifetime+time.Hour
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func newCA(certFile, keyFile, domain string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "sessionkit demo CA for " + domain, Organization: []string{"sessionkit demo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime - time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	nameConstraints(tmpl, domain)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", kb); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func loadPair(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("the CA key is not ECDSA")
	}
	return cert, key, nil
}

// writePEM writes a file readable by its owner only, replacing any.
func writePEM(path, kind string, der []byte) error {
	tmp := path + ".tmp"
	os.Remove(tmp) // WriteFile would keep the mode of a leftover
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
