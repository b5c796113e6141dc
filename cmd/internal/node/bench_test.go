package node

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/shop"
	"github.com/sessionkit/sessionkit/memstore"
)

// BenchmarkShopMix sends the saturation mix of bench/saturation.sh (80%
// GET /api/session, 20% cart writes, every eighth a checkout) through a
// node's whole handler, in process: the shop on a memstore against the
// baseline without sessions. The difference is what the sessions cost
// the node's code, without the sockets, the router and the contention of
// a saturated machine.
func BenchmarkShopMix(b *testing.B) {
	for _, name := range []string{"baseline", "memory"} {
		b.Run(name, func(b *testing.B) {
			cfg := Config{Name: "n1", Dev: true, Logger: slog.New(slog.DiscardHandler)}
			if name == "baseline" {
				cfg.App = shop.Baseline(cfg.Name)
			} else {
				store := memstore.New(memstore.Config{})
				defer store.Close()
				cfg.Store = store
			}
			n, err := Start(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer n.Shutdown(b.Context())
			h := n.srv.Handler
			serve := func(method, path, body, cookie string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(method, path, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			cookie := "session=u1"
			if cfg.App == nil {
				w := serve("POST", "/api/login", `{"user":"u1"}`, "")
				cookie, _, _ = strings.Cut(w.Header().Get("Set-Cookie"), ";")
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var w *httptest.ResponseRecorder
				switch {
				case i%40 == 39:
					w = serve("POST", "/api/checkout", "", cookie)
				case i%5 == 4:
					w = serve("POST", "/api/cart", `{"item":"book"}`, cookie)
				default:
					w = serve("GET", "/api/session", "", cookie)
				}
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
