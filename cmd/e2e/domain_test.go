package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/publicsuffix"

	"github.com/sessionkit/sessionkit/internal/proctest"
)

// startDomainDemo starts the demo on shop.mall.test and pay.mall.test over
// HTTPS and returns the shop's URL, the port and the CA file.
func startDomainDemo(t *testing.T) (shop, port, caFile string) {
	p := start(t, "demo", "--domain", "mall.test", "--ca-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--log-level", "warn")
	m, err := p.Expect(routerBanner, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m[1], "https://shop.mall.test:") {
		t.Fatalf("router: %s, want https://shop.mall.test:PORT", m[1])
	}
	ca, err := p.Expect(regexp.MustCompile(`^ca: (\S+)$`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m[1], strings.TrimPrefix(m[1], "https://shop.mall.test:"), ca[1]
}

// TestDomainSharedSession: a session made on shop.mall.test is the
// session of pay.mall.test, through the parent-domain cookie, over HTTPS
// with the demo's CA; a host-only cookie would not be.
func TestDomainSharedSession(t *testing.T) {
	shop, port, caFile := startDomainDemo(t)
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, "127.0.0.1:"+p) // *.mall.test is this machine
		},
	}}
	c := &client{t: t, base: shop, http: hc}
	if code, v := c.call("POST", "/api/login", `{"user":"ada"}`); code != 200 || v.User != "ada" {
		t.Fatalf("login on shop: %d %+v", code, v)
	}
	pay := &client{t: t, base: "https://pay.mall.test:" + port, http: hc}
	if code, v := pay.call("GET", "/api/session", ""); code != 200 || v.User != "ada" {
		t.Fatalf("pay.mall.test does not see shop.mall.test's session: %d %+v", code, v)
	}
	shopURL, _ := url.Parse(shop)
	var name string
	for _, ck := range jar.Cookies(shopURL) {
		name = ck.Name
	}
	if name != "__Secure-session" {
		t.Fatalf("session cookie %q, want __Secure-session (Secure, for the parent domain)", name)
	}
	// The same cookie without its Domain, host-only, stays on shop.
	hostOnly, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	hostOnly.SetCookies(shopURL, []*http.Cookie{{Name: "__Host-session", Value: "x", Path: "/", Secure: true}})
	payURL, _ := url.Parse("https://pay.mall.test:" + port)
	if len(hostOnly.Cookies(payURL)) != 0 {
		t.Fatal("a host-only cookie reached a sibling subdomain")
	}
}

// TestBrowserDomain: the same in Chromium, which trusts only the demo's CA
// (imported into a fresh profile's certificate store with certutil).
func TestBrowserDomain(t *testing.T) {
	shop, port, caFile := startDomainDemo(t)
	certutil := proctest.Need(t, "Debian: apt-get install libnss3-tools", "certutil")
	home := t.TempDir()
	db := "sql:" + home + "/.pki/nssdb"
	os.MkdirAll(home+"/.pki/nssdb", 0o700)
	for _, args := range [][]string{
		{"-N", "-d", db, "--empty-password"},
		{"-A", "-d", db, "-t", "C,,", "-n", "sessionkit demo CA", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	ctx := browser(t, chromedp.Env("HOME="+home), chromedp.Flag("host-resolver-rules", "MAP *.mall.test 127.0.0.1"))
	if err := chromedp.Do(ctx,
		chromedp.Navigate(shop),
		chromedp.SendKeys(css(`input[name=user]`), "ada"),
		chromedp.Submit(css(`input[name=user]`)),
		chromedp.WaitVisible(css(`#user`)),
		chromedp.Navigate("https://pay.mall.test:"+port+"/"),
		chromedp.WaitVisible(css(`#node`)),
	); err != nil {
		t.Fatal(err)
	}
	user, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#user")||{}).textContent||""`))
	if err != nil || user != "ada" {
		t.Fatalf("pay.mall.test in the browser: user %q, %v", user, err)
	}
}
