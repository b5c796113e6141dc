package demo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// NodeStatus is a node as the admin page shows it.
type NodeStatus struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Pid   int    `json:"pid"`
	Alive bool   `json:"alive"`
}

// Nodes returns the nodes' state.
func (d *Demo) Nodes() []NodeStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []NodeStatus
	for _, name := range d.order {
		n := d.nodes[name]
		st := NodeStatus{Name: name, URL: n.url}
		if n.p != nil {
			select {
			case <-n.p.Done():
			default:
				st.Alive, st.Pid = true, n.p.Pid()
			}
		}
		out = append(out, st)
	}
	return out
}

// Kill kills a node with SIGKILL, as a crash.
func (d *Demo) Kill(name string) error {
	d.mu.Lock()
	n := d.nodes[name]
	d.mu.Unlock()
	if n == nil || n.p == nil {
		return fmt.Errorf("no running node %q", name)
	}
	n.p.Kill()
	d.cfg.Logger.Info("demo: killed", "node", name)
	return nil
}

// Restart starts a killed node again under its name and ports.
func (d *Demo) Restart(name string) error {
	d.mu.Lock()
	n := d.nodes[name]
	d.mu.Unlock()
	if n == nil {
		return fmt.Errorf("no node %q", name)
	}
	if n.p != nil {
		select {
		case <-n.p.Done():
		default:
			return fmt.Errorf("node %q is running", name)
		}
	}
	d.cfg.Logger.Info("demo: restarting", "node", name)
	return d.startNode(n)
}

// Add starts one more node.
func (d *Demo) Add() (string, error) {
	n, err := d.addNode()
	if err != nil {
		return "", err
	}
	d.cfg.Logger.Info("demo: added", "node", n.name)
	return n.name, nil
}

var errUnauthorized = errors.New("unauthorized")

func (d *Demo) authorized(r *http.Request) bool {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t == d.token
	}
	return r.URL.Query().Get("token") == d.token || r.PostFormValue("token") == d.token
}

func (d *Demo) serveAdmin() error {
	ln, err := net.Listen("tcp", d.cfg.Admin)
	if err != nil {
		return err
	}
	d.AdminURL = fmt.Sprintf("http://%s/?token=%s", ln.Addr(), d.token)
	srv := &http.Server{Handler: d.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-d.ctx.Done()
		srv.Close()
	}()
	return nil
}

func (d *Demo) adminHandler() http.Handler {
	mux := http.NewServeMux()
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !d.authorized(r) {
				http.Error(w, errUnauthorized.Error(), http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /{$}", guard(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		adminPage.Execute(w, map[string]any{"Strategy": d.cfg.Strategy, "Router": d.RouterURL, "Nodes": d.Nodes(), "Token": d.token})
	}))
	act := func(fn func(r *http.Request) error) http.HandlerFunc {
		return guard(func(w http.ResponseWriter, r *http.Request) {
			if err := fn(r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if r.Header.Get("Authorization") != "" {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"ok":true}`+"\n")
				return
			}
			http.Redirect(w, r, "/?token="+d.token, http.StatusSeeOther)
		})
	}
	mux.HandleFunc("POST /nodes/{name}/kill", act(func(r *http.Request) error { return d.Kill(r.PathValue("name")) }))
	mux.HandleFunc("POST /nodes/{name}/restart", act(func(r *http.Request) error { return d.Restart(r.PathValue("name")) }))
	mux.HandleFunc("POST /nodes", act(func(r *http.Request) error { _, err := d.Add(); return err }))
	mux.HandleFunc("GET /api/nodes", guard(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[")
		for i, n := range d.Nodes() {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"name":%q,"url":%q,"pid":%d,"alive":%s}`, n.Name, n.URL, n.Pid, strconv.FormatBool(n.Alive))
		}
		fmt.Fprintln(w, "]")
	}))
	return mux
}
