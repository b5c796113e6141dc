package clusterstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit/clusterstore/internal/clusterkey"
)

// credentials derives the data plane's TLS certificate from the cluster
// key: every node holds the same Ed25519 key, and a peer is accepted only
// if it proves it holds it too (mutual TLS 1.3, the key pinned). A process
// without the cluster key can neither connect nor accept.
func credentials(key []byte) (tls.Certificate, ed25519.PublicKey, error) {
	priv := ed25519.NewKeyFromSeed(clusterkey.Derive(key, "data plane", ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"sessionkit-cluster"},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, pub, nil
}

// pin accepts only a peer whose certificate carries the cluster's key.
func pin(want ed25519.PublicKey) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("clusterstore: peer sent no certificate")
		}
		cert, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		got, ok := cert.PublicKey.(ed25519.PublicKey)
		if !ok || !got.Equal(want) {
			return errors.New("clusterstore: peer does not hold the cluster key")
		}
		return nil
	}
}

func tlsConfigs(key []byte) (server, client *tls.Config, err error) {
	cert, pub, err := credentials(key)
	if err != nil {
		return nil, nil, err
	}
	server = &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAnyClientCert, VerifyPeerCertificate: pin(pub),
		NextProtos: []string{"h2"},
	}
	client = &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		InsecureSkipVerify:    true, // the certificate is checked by VerifyPeerCertificate: pinned
		VerifyPeerCertificate: pin(pub), NextProtos: []string{"h2"},
	}
	return server, client, nil
}

// newClient returns the data plane's client: HTTP/2 over mutual TLS, one
// multiplexed connection per peer, kept open.
func newClient(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout: 2 * time.Second,
		IdleConnTimeout:     5 * time.Minute,
		MaxIdleConnsPerHost: 4,
	}}
}

// rpcError is a peer's answer other than 200.
type rpcError struct {
	status int
	msg    string
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("clusterstore: peer answered %d: %s", e.status, e.msg)
}

// post posts body to path on the peer at addr, with this node's view
// digest, the call's hops and its deadline.
func (s *Store) post(ctx context.Context, addr, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set(viewHeader, s.view.Load().digest)
	req.Header.Set(fromHeader, s.cfg.Name)
	s.injectHeader(ctx, req.Header)
	req.Header.Set(hopsHeader, strconv.Itoa(hopsOf(ctx)+1))
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set(deadlineHeader, strconv.FormatInt(d.UnixNano(), 10))
	}
	s.metrics.sent.Add(float64(len(body)))
	return s.client.Do(req)
}

// call posts body to path on the peer at addr and returns the answer. A
// peer whose view differs answers with its vector instead: the two
// exchange views and the call is made again.
func (s *Store) call(ctx context.Context, addr, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	defer cancel()
	for range 2 * maxAttempts {
		resp, err := s.post(ctx, addr, path, body)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return b, nil
		case http.StatusMisdirectedRequest:
			d := newDecoder(b)
			if vec := decodeVector(d); d.Err() == nil {
				s.learn(vec)
			}
			if _, err := s.exchange(ctx, addr); err != nil {
				return nil, err
			}
		default:
			return b, &rpcError{status: resp.StatusCode, msg: string(b)}
		}
	}
	return nil, errViewsDiffer
}
