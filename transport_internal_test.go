package sessionkit

import (
	"net/http"
	"strings"
	"testing"
)

// TestMaxOverheadBounds checks that SetToken's quick bound of a cookie's
// attributes is never below their exact length, whatever the settings:
// below it, a token would take one cookie where it needs two.
func TestMaxOverheadBounds(t *testing.T) {
	for _, c := range []CookieTransport{
		{},
		{Insecure: true},
		{Name: "s", Domain: "mall.test", Path: "/shop/" + strings.Repeat("p", 100), SameSite: http.SameSiteNoneMode},
		{Name: strings.Repeat("n", 60), Domain: ".a.b.example.org", SameSite: http.SameSiteStrictMode, MaxChunks: 16},
		{Path: "/x;y", Domain: "example.com", SameSite: http.SameSiteDefaultMode},
	} {
		for _, name := range []string{c.CookieName(), c.CookieName() + ".15"} {
			if exact, bound := c.overhead(name), c.maxOverhead(name); bound < exact {
				t.Errorf("%+v, cookie %q: bound %d below the exact overhead %d", c, name, bound, exact)
			}
		}
	}
}
