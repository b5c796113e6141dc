package clusterstore

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/sessionkit/sessionkit"
)

// rpcHandler serves the data plane. A forwarded write runs here as at the
// owner, whatever this node's view: part of the cluster's traffic arrives
// during membership changes, and a node never forwards a forwarded call.
func (s *Store) rpcHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, fn func(ctx context.Context, d *dec) (enc, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.metrics.received.Add(float64(len(body)))
			d := &dec{b: body}
			out, err := fn(r.Context(), d)
			switch {
			case d.err != nil:
				http.Error(w, d.err.Error(), http.StatusBadRequest)
			case errors.Is(err, sessionkit.ErrNotFound):
				http.Error(w, "not found", http.StatusNotFound)
			case errors.Is(err, errSwapFailed):
				http.Error(w, "changed", http.StatusConflict)
			case err != nil:
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			default:
				w.Write(out)
			}
		})
	}
	backups := func(h [32]byte) []string {
		owners, _ := s.owners(h)
		var out []string
		for _, o := range owners {
			if o != s.cfg.Name {
				out = append(out, o)
			}
		}
		return out
	}
	answer := func(r *record) (enc, error) {
		if r == nil {
			return nil, sessionkit.ErrNotFound
		}
		return enc{}.u(r.version).meta(&r.meta).values(r.values), nil
	}
	handle("/rpc/load", func(ctx context.Context, d *dec) (enc, error) { return answer(s.ownerLoad(ctx, d.h())) })
	handle("/rpc/read", func(ctx context.Context, d *dec) (enc, error) {
		r, _ := s.table.load(d.h())
		return answer(r)
	})
	handle("/rpc/create", func(ctx context.Context, d *dec) (enc, error) {
		h, meta, values := d.h(), d.meta(), d.values()
		if d.err != nil {
			return nil, d.err
		}
		return nil, s.replicate(ctx, s.table.create(h, meta, values), backups(h))
	})
	handle("/rpc/commit", func(ctx context.Context, d *dec) (enc, error) {
		h := d.h()
		delta := decodeDelta(d)
		if d.err != nil {
			return nil, d.err
		}
		m, err := s.table.commit(h, delta)
		if errors.Is(err, sessionkit.ErrNotFound) && s.adopt(ctx, h) {
			m, err = s.table.commit(h, delta)
		}
		if err != nil {
			return nil, err
		}
		return nil, s.replicate(ctx, m, backups(h))
	})
	handle("/rpc/swap", func(ctx context.Context, d *dec) (enc, error) {
		h, key, oldOK, old, nextOK, next, deadline := d.h(), d.s(), d.flag(), d.b_(), d.flag(), d.b_(), d.t()
		if d.err != nil {
			return nil, d.err
		}
		if !nextOK {
			next = nil
		}
		m, swapped, err := s.table.swap(h, key, old, oldOK, next, deadline)
		if err != nil {
			return nil, err
		}
		if !swapped {
			return nil, errSwapFailed
		}
		return nil, s.replicate(ctx, m, backups(h))
	})
	handle("/rpc/take", func(ctx context.Context, d *dec) (enc, error) {
		h := d.h()
		r, m, err := s.table.take(h)
		if err != nil {
			return nil, err
		}
		if err := s.replicate(ctx, m, backups(h)); err != nil {
			return nil, err
		}
		return enc{}.u(r.version).meta(&r.meta).values(r.values), nil
	})
	handle("/rpc/delete", func(ctx context.Context, d *dec) (enc, error) {
		h := d.h()
		_, m, err := s.table.take(h)
		if err != nil {
			return nil, err
		}
		return nil, s.replicate(ctx, m, backups(h))
	})
	handle("/rpc/replicate", func(ctx context.Context, d *dec) (enc, error) {
		if s.leaving.Load() {
			// A node handing its sessions over takes none back.
			return nil, errLeaving
		}
		var need [][32]byte
		for n := d.u(); n > 0 && d.err == nil; n-- {
			m := decodeMessage(d)
			if d.err == nil && s.table.apply(m) {
				need = append(need, m.h)
			}
		}
		out := enc{}.u(uint64(len(need)))
		for _, h := range need {
			out = out.h(h)
		}
		return out, nil
	})
	handle("/rpc/sessions", func(ctx context.Context, d *dec) (enc, error) {
		infos := s.ownedOf(d.s())
		out := enc{}.u(uint64(len(infos)))
		for i := range infos {
			out = out.s(infos[i].ID).meta(&infos[i].Meta)
		}
		return out, nil
	})
	handle("/rpc/revoke", func(ctx context.Context, d *dec) (enc, error) {
		return enc{}.u(uint64(s.revokeOwned(ctx, d.s()))), nil
	})
	return mux
}

var errLeaving = errors.New("clusterstore: node is leaving")

// Held describes a session a node holds, for the admin API.
type Held struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	Owner   bool   `json:"owner"`
}

// Stats describes what a node holds.
type Stats struct {
	Name     string   `json:"name"`
	Members  []string `json:"members"`
	Owned    int      `json:"owned"`
	Backups  int      `json:"backups"`
	Bytes    int      `json:"bytes"`
	Sessions []Held   `json:"sessions,omitempty"`
}

// Stats returns what the node holds; with list, every session too.
func (s *Store) Stats(list bool) Stats {
	st := Stats{Name: s.cfg.Name}
	for _, m := range s.Members() {
		st.Members = append(st.Members, m.Name)
	}
	_, st.Bytes = s.table.stats()
	for h, version := range s.table.hashes() {
		owners, _ := s.owners(h)
		owner := len(owners) > 0 && owners[0] == s.cfg.Name
		if owner {
			st.Owned++
		} else {
			st.Backups++
		}
		if list {
			st.Sessions = append(st.Sessions, Held{ID: hex.EncodeToString(h[:]), Version: version, Owner: owner})
		}
	}
	return st
}
