package cli

import (
	"strings"
	"testing"
)

// TestCreateLimitWithoutTrustedProxiesWarns: behind a router, a node that
// limits session creation without -trusted-proxies sees every client as
// the router, so one bucket throttles everyone: it says so at start.
func TestCreateLimitWithoutTrustedProxiesWarns(t *testing.T) {
	_, _, _, log, stop := startNodeLog(t, "node", "--listen", "127.0.0.1:0", "--dev", "--create-limit", "1,5")
	stop()
	if out := log.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "-trusted-proxies") {
		t.Errorf("no warning about -create-limit without -trusted-proxies:\n%s", out)
	}
	_, _, _, log, stop = startNodeLog(t, "node", "--listen", "127.0.0.1:0", "--dev", "--create-limit", "1,5", "--trusted-proxies", "127.0.0.1/32")
	stop()
	if out := log.String(); strings.Contains(out, "-trusted-proxies") {
		t.Errorf("a warning about -trusted-proxies although it is given:\n%s", out)
	}
}
