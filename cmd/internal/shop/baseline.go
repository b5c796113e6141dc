package shop

import (
	"io"
	"net/http"
)

// Baseline returns the shop's JSON API without sessions, the yardstick of
// the lab's CPU figures: the same routes, the same request decoding and the
// same View shape, from a fixed view. A cart write decodes its body and
// answers the view, storing nothing; the cookies a request carries are not
// read. The difference between a strategy's node and this one, per
// request, is what sessions cost.
func Baseline(node string) http.Handler {
	v := View{Node: node, Strategy: "baseline", User: "user", Cart: []string{}, Values: map[string]any{"user": "user"}}
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
