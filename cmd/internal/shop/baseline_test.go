package shop

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBaseline checks the no-session yardstick answers the shop API's
// routes with a View, decodes the writes' bodies as the shop does, and
// answers the health checks the router sends.
func TestBaseline(t *testing.T) {
	srv := httptest.NewServer(Baseline("b1"))
	defer srv.Close()
	for _, c := range []struct {
		method, path, body string
		code               int
	}{
		{"GET", "/api/session", "", 200},
		{"POST", "/api/cart", `{"item":"book"}`, 200},
		{"POST", "/api/checkout", "", 200},
		{"POST", "/api/cart", `{"nope":1}`, 400},
		{"GET", "/readyz", "", 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/elsewhere", "", 404},
	} {
		req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v View
		if c.code == 200 && strings.HasPrefix(c.path, "/api/") {
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Node != "b1" || v.Cart == nil {
				t.Errorf("%s %s: view %+v, %v", c.method, c.path, v, err)
			}
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
	}
}
