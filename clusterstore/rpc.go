package clusterstore

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit"
)

// rpcHandler serves the data plane. Every call but the exchange of views
// is answered only if the caller's view is this node's: otherwise the
// answer is 421 with this node's vector, and the caller exchanges views
// and calls again. Operations on a key run at its owner under the view
// both now hold: a node that does not own the key forwards the call.
func (s *Store) rpcHandler() http.Handler {
	mux := http.NewServeMux()
	serve := func(path string, fn func(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if d, err := strconv.ParseInt(r.Header.Get(deadlineHeader), 10, 64); err == nil {
				if time.Now().UnixNano() > d {
					http.Error(w, "the caller stopped waiting", http.StatusServiceUnavailable)
					return
				}
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, time.Unix(0, d))
				defer cancel()
			}
			hops, _ := strconv.Atoi(r.Header.Get(hopsHeader))
			ctx = context.WithValue(ctx, hopsKey{}, hops)
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.metrics.received.Add(float64(len(body)))
			if v := s.view.Load(); path != "/rpc/view" && r.Header.Get(viewHeader) != v.digest {
				w.Header().Set(viewHeader, v.digest)
				w.WriteHeader(http.StatusMisdirectedRequest)
				w.Write(v.vec.encode(nil))
				return
			}
			fn(ctx, w, r, body)
		})
	}
	handle := func(path string, fn func(ctx context.Context, d *dec, from string) (enc, error)) {
		serve(path, func(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte) {
			d := &dec{b: body}
			out, err := fn(ctx, d, r.Header.Get(fromHeader))
			w.Header().Set(viewHeader, s.view.Load().digest)
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
	handle("/rpc/view", func(ctx context.Context, d *dec, _ string) (enc, error) {
		vec := decodeVector(d)
		if d.err != nil {
			return nil, d.err
		}
		s.learn(vec)
		return s.view.Load().vec.encode(nil), nil
	})
	handle("/rpc/load", func(ctx context.Context, d *dec, _ string) (enc, error) {
		h := d.h()
		if d.err != nil {
			return nil, d.err
		}
		r, err := s.load(ctx, h)
		if err != nil {
			return nil, err
		}
		return encodeRecord(r), nil
	})
	handle("/rpc/copy", func(ctx context.Context, d *dec, _ string) (enc, error) {
		h, warm := d.h(), d.flag()
		if d.err != nil {
			return nil, d.err
		}
		if warm && !s.warm.Load() {
			return nil, errWarming
		}
		s.settle()
		m, ok := s.table.full(h)
		if !ok {
			return nil, sessionkit.ErrNotFound
		}
		return m.encode(nil), nil
	})
	handle("/rpc/create", func(ctx context.Context, d *dec, _ string) (enc, error) {
		h, meta, values := d.h(), d.meta(), d.values()
		if d.err != nil {
			return nil, d.err
		}
		return nil, s.create(ctx, h, meta, values)
	})
	handle("/rpc/commit", func(ctx context.Context, d *dec, _ string) (enc, error) {
		h := d.h()
		delta := decodeDelta(d)
		if d.err != nil {
			return nil, d.err
		}
		return nil, s.commit(ctx, h, delta)
	})
	handle("/rpc/swap", func(ctx context.Context, d *dec, _ string) (enc, error) {
		h, key, oldOK, old, nextOK, next, deadline := d.h(), d.s(), d.flag(), d.b_(), d.flag(), d.b_(), d.t()
		if d.err != nil {
			return nil, d.err
		}
		if !nextOK {
			next = nil
		}
		return nil, s.swap(ctx, h, key, old, oldOK, next, deadline)
	})
	handle("/rpc/take", func(ctx context.Context, d *dec, _ string) (enc, error) {
		h := d.h()
		if d.err != nil {
			return nil, d.err
		}
		r, err := s.take(ctx, h)
		if err != nil {
			return nil, err
		}
		return encodeRecord(r), nil
	})
	handle("/rpc/replicate", func(ctx context.Context, d *dec, from string) (enc, error) {
		// A copy is taken only by a node that holds the key under the
		// view; a write only from the key's owner.
		var need, refused [][32]byte
		for n := d.u(); n > 0 && d.err == nil; n-- {
			m := decodeMessage(d)
			if d.err != nil {
				break
			}
			owners, _ := s.owners(m.h)
			if !slices.Contains(owners, s.cfg.Name) || (m.write && (len(owners) == 0 || owners[0] != from)) {
				refused = append(refused, m.h)
				s.metrics.fenced.Inc()
				continue
			}
			if s.table.apply(m) {
				need = append(need, m.h)
			}
		}
		out := enc{}.u(uint64(len(need)))
		for _, h := range need {
			out = out.h(h)
		}
		out = out.u(uint64(len(refused)))
		for _, h := range refused {
			out = out.h(h)
		}
		return out, nil
	})
	serve("/rpc/pull", func(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte) {
		d := dec{b: body}
		node := d.s()
		if d.err != nil {
			http.Error(w, d.err.Error(), http.StatusBadRequest)
			return
		}
		s.servePull(w, node)
	})
	handle("/rpc/sessions", func(ctx context.Context, d *dec, _ string) (enc, error) {
		infos := s.ownedOf(d.s())
		out := enc{}.u(uint64(len(infos)))
		for i := range infos {
			out = out.s(infos[i].ID).meta(&infos[i].Meta)
		}
		return out, nil
	})
	handle("/rpc/revoke", func(ctx context.Context, d *dec, _ string) (enc, error) {
		return enc{}.u(uint64(s.revokeOwned(ctx, d.s()))), nil
	})
	return mux
}

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
	View     string   `json:"view"`     // the digest of the node's view
	Warm     bool     `json:"warm"`     // false while it pulls its sessions
	Draining bool     `json:"draining"` // handing its sessions over before it leaves
	Owned    int      `json:"owned"`
	Backups  int      `json:"backups"`
	Bytes    int      `json:"bytes"`
	Sessions []Held   `json:"sessions,omitempty"`
}

// Stats returns what the node holds; with list, every session too.
func (s *Store) Stats(list bool) Stats {
	st := Stats{Name: s.cfg.Name, View: s.view.Load().digest, Warm: s.warm.Load()}
	if m := s.members.Load(); m != nil {
		st.Draining = m.Self().Draining
	}
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
