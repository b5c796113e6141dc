package shop

import (
	"io"
	"net/http"
	"time"
)

// Baseline returns the shop's JSON API without sessions, the yardstick of
// the lab's CPU figures: the same routes, the same request decoding and the
// same View, fixed: what a user who has ordered once and holds four items
// in the cart sees (the saturation mix's carts hold 0 to 7). A cart write
// decodes its body and answers the view, storing nothing; the cookies a
// request carries are not read. The difference between a strategy's node
// and this one, per request, is what sessions cost.
func Baseline(node string) http.Handler {
	cart := []string{"book", "book", "book", "book"}
	v := View{
		Node: node, Strategy: "baseline", User: "user", Cart: cart, Orders: 1, Expires: time.Now().Add(30 * time.Minute),
		Values: map[string]any{keyUser: "user", keyCart: cart, keyOrders: 1, keyFlash: "Order placed: 4 items."},
	}
	mux := http.NewServeMux()
	api := func(decode bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if decode {
				var in request
				if err := decodeJSON(w, r, &in); err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
					return
				}
			}
			writeJSON(w, http.StatusOK, v)
		}
	}
	mux.HandleFunc("GET /api/session", api(false))
	for _, p := range []string{"login", "cart", "checkout", "logout"} {
		mux.HandleFunc("POST /api/"+p, api(true))
	}
	ok := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	return crossOriginProtection(mux)
}
