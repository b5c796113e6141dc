package cli

import (
	"net/http"
	"testing"
)

// TestAdminServerTimeouts: the node's admin API bounds every phase of a
// connection, as the router's does, so that a client that sends its body
// or reads its response slowly, or keeps a connection idle, cannot hold
// it open.
func TestAdminServerTimeouts(t *testing.T) {
	a, err := serveAdmin("127.0.0.1:0", "", adminRoutes{metrics: http.NotFoundHandler(), ready: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := a.srv
	for name, d := range map[string]int64{
		"ReadHeaderTimeout": int64(s.ReadHeaderTimeout), "ReadTimeout": int64(s.ReadTimeout),
		"WriteTimeout": int64(s.WriteTimeout), "IdleTimeout": int64(s.IdleTimeout),
	} {
		if d <= 0 {
			t.Errorf("the admin server's %s is not set", name)
		}
	}
	if s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes > 1<<20 {
		t.Errorf("the admin server's MaxHeaderBytes is %d", s.MaxHeaderBytes)
	}
}
