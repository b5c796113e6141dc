package router

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MemberStatus is a member as the admin API shows it.
type MemberStatus struct {
	Member
	Healthy  bool  `json:"healthy"`
	Draining bool  `json:"draining"`
	Inflight int64 `json:"inflight"`
}

// Status returns every member's state.
func (rt *Router) Status() []MemberStatus {
	v := rt.view.Load()
	out := make([]MemberStatus, 0, len(v.list))
	for _, b := range v.list {
		out = append(out, MemberStatus{Member: b.Member, Healthy: b.healthy.Load(), Draining: b.draining.Load(), Inflight: b.inflight.Load()})
	}
	return out
}

// Ready reports whether at least one backend is healthy.
func (rt *Router) Ready() bool {
	for _, b := range rt.view.Load().list {
		if b.healthy.Load() {
			return true
		}
	}
	return false
}

// AdminHandler returns the admin API. Serve it on its own address,
// loopback by default. /healthz, /readyz and /metrics are open; the
// member API requires "Authorization: Bearer TOKEN":
//
//	GET    /members               the members and their state
//	POST   /members               add or replace one: {"name":"n4","url":"http://...","weight":1}
//	POST   /members/{name}/drain  send it no new sessions (existing ones still reach it)
//	DELETE /members/{name}/drain  undo the drain
//	DELETE /members/{name}        remove it
func (rt *Router) AdminHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !rt.Ready() {
			http.Error(w, "no healthy backend", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(rt.cfg.Registry, promhttp.HandlerOpts{}))
	auth := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sessionkit router"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h(w, r)
		})
	}
	mux.Handle("GET /members", auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, rt.Status())
	}))
	mux.Handle("POST /members", auth(func(w http.ResponseWriter, r *http.Request) {
		var m Member
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if err := rt.AddMember(m); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, rt.Status())
	}))
	drain := func(on bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Drain(r.PathValue("name"), on); err != nil {
				writeError(w, http.StatusNotFound, err)
				return
			}
			writeJSON(w, http.StatusOK, rt.Status())
		}
	}
	mux.Handle("POST /members/{name}/drain", auth(drain(true)))
	mux.Handle("DELETE /members/{name}/drain", auth(drain(false)))
	mux.Handle("DELETE /members/{name}", auth(func(w http.ResponseWriter, r *http.Request) {
		if err := rt.RemoveMember(r.PathValue("name")); err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, http.StatusOK, rt.Status())
	}))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
