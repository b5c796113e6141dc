package clusterstore

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit"
)

// rpcHandler serves the data plane, one handler per call. Every call but
// the exchange of views is answered only if the caller's view is this
// node's: otherwise the answer is 421 with this node's vector, and the
// caller exchanges views and calls again. Operations on a key run at its
// owner under the view both now hold: a node that does not own the key
// forwards the call.
func (s *Store) rpcHandler() http.Handler {
	mux := http.NewServeMux()
	for path, call := range map[string]rpc{
		"/rpc/view":      s.rpcView,
		"/rpc/load":      s.rpcLoad,
		"/rpc/copy":      s.rpcCopy,
		"/rpc/create":    s.rpcCreate,
		"/rpc/commit":    s.rpcCommit,
		"/rpc/swap":      s.rpcSwap,
		"/rpc/take":      s.rpcTake,
		"/rpc/replicate": s.rpcReplicate,
		"/rpc/sessions":  s.rpcSessions,
		"/rpc/revoke":    s.rpcRevoke,
	} {
		mux.Handle("POST "+path, s.guard(path, s.answer(call)))
	}
	mux.Handle("POST /rpc/pull", s.guard("/rpc/pull", s.rpcPull))
	return mux
}

// rpc is one call of the data plane: it reads its request from d and
// returns its answer. from names the calling node.
type rpc func(ctx context.Context, d *decoder, from string) (encoder, error)

// guard checks what every call carries before serve gets its body: the
// caller's deadline (the call's context ends with it), the number of hops
// so far, and the caller's view.
func (s *Store) guard(path string, serve func(ctx context.Context, w http.ResponseWriter, from string, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, end := s.serveTraced(r, path)
		defer end(nil)
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
		serve(ctx, w, r.Header.Get(fromHeader), body)
	})
}

// answer runs call on the body and writes its answer: 400 for a malformed
// request, 404 for a session not found, 409 for a compare-and-set that
// found another value, 503 for any other error.
func (s *Store) answer(call rpc) func(ctx context.Context, w http.ResponseWriter, from string, body []byte) {
	return func(ctx context.Context, w http.ResponseWriter, from string, body []byte) {
		d := newDecoder(body)
		out, err := call(ctx, d, from)
		w.Header().Set(viewHeader, s.view.Load().digest)
		switch {
		case d.Err() != nil:
			http.Error(w, d.Err().Error(), http.StatusBadRequest)
		case errors.Is(err, sessionkit.ErrNotFound):
			http.Error(w, "not found", http.StatusNotFound)
		case errors.Is(err, errSwapFailed):
			http.Error(w, "changed", http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		default:
			w.Write(out)
		}
	}
}

// rpcView exchanges views: the caller's vector in, the merged one out.
func (s *Store) rpcView(ctx context.Context, d *decoder, _ string) (encoder, error) {
	vec := decodeVector(d)
	if d.Err() != nil {
		return nil, d.Err()
	}
	s.learn(vec)
	return s.view.Load().vec.encode(nil), nil
}

// rpcLoad reads a session at its owner: a key and, from an Update, its
// operation id in; the record out, and whether it holds that write.
func (s *Store) rpcLoad(ctx context.Context, d *decoder, _ string) (encoder, error) {
	h := d.hash()
	op := d.trailingOp()
	if d.Err() != nil {
		return nil, d.Err()
	}
	r, applied, err := s.loadOp(ctx, h, op)
	if err != nil {
		return nil, err
	}
	return encodeLoaded(r, applied), nil
}

// copyRequest asks a node for the copy of a key it holds.
type copyRequest struct {
	hash [32]byte
	warm bool // answer only if this node is warm
}

func (e encoder) copyRequest(r *copyRequest) encoder { return e.hash(r.hash).flag(r.warm) }

func (d *decoder) copyRequest() copyRequest { return copyRequest{hash: d.hash(), warm: d.flag()} }

// rpcCopy gives this node's copy of a key, record or tombstone, as a
// replication message.
func (s *Store) rpcCopy(ctx context.Context, d *decoder, _ string) (encoder, error) {
	req := d.copyRequest()
	if d.Err() != nil {
		return nil, d.Err()
	}
	if req.warm && !s.warm.Load() {
		return nil, errWarming
	}
	s.settle()
	m, ok := s.table.full(req.hash)
	if !ok {
		return nil, sessionkit.ErrNotFound
	}
	return encoder(nil).message(&m), nil
}

// createRequest creates a session at its owner.
type createRequest struct {
	hash   [32]byte
	meta   sessionkit.Meta
	values map[string][]byte
	op     uint64 // the write's operation id (0: none, from a node before ids)
}

func (e encoder) createRequest(r *createRequest) encoder {
	return e.hash(r.hash).meta(&r.meta).values(r.values).op(r.op)
}

func (d *decoder) createRequest() createRequest {
	r := createRequest{hash: d.hash(), meta: d.meta(), values: d.values()}
	r.op = d.trailingOp()
	return r
}

func (s *Store) rpcCreate(ctx context.Context, d *decoder, _ string) (encoder, error) {
	req := d.createRequest()
	if d.Err() != nil {
		return nil, d.Err()
	}
	return nil, s.create(ctx, req.hash, req.op, req.meta, req.values)
}

// commitRequest applies a delta to a session at its owner.
type commitRequest struct {
	hash  [32]byte
	delta sessionkit.Delta
	op    uint64 // the write's operation id (0: none, from a node before ids)
}

func (e encoder) commitRequest(r *commitRequest) encoder {
	return e.hash(r.hash).delta(&r.delta).op(r.op)
}

func (d *decoder) commitRequest() commitRequest {
	r := commitRequest{hash: d.hash(), delta: d.delta()}
	r.op = d.trailingOp()
	return r
}

func (s *Store) rpcCommit(ctx context.Context, d *decoder, _ string) (encoder, error) {
	req := d.commitRequest()
	if d.Err() != nil {
		return nil, d.Err()
	}
	return nil, s.commit(ctx, req.hash, req.op, req.delta)
}

// swapRequest is the compare-and-set of an Update run off the key's
// owner: key is set to next if its value is still old.
type swapRequest struct {
	hash     [32]byte
	key      string
	old      []byte
	oldOK    bool   // false: key must be absent
	next     []byte // nil: key is deleted
	deadline time.Time
	op       uint64 // the Update's operation id (0: none, from a node before ids)
}

func (e encoder) swapRequest(r *swapRequest) encoder {
	return e.hash(r.hash).string(r.key).flag(r.oldOK).bytes(r.old).flag(r.next != nil).bytes(r.next).time(r.deadline).op(r.op)
}

func (d *decoder) swapRequest() swapRequest {
	r := swapRequest{hash: d.hash(), key: d.string(), oldOK: d.flag(), old: d.bytes()}
	nextOK, next := d.flag(), d.bytes()
	if nextOK {
		r.next = next
	}
	r.deadline = d.time()
	r.op = d.trailingOp()
	return r
}

func (s *Store) rpcSwap(ctx context.Context, d *decoder, _ string) (encoder, error) {
	req := d.swapRequest()
	if d.Err() != nil {
		return nil, d.Err()
	}
	return nil, s.swap(ctx, &req)
}

// rpcTake removes a session at its owner: a key in, the record out.
func (s *Store) rpcTake(ctx context.Context, d *decoder, _ string) (encoder, error) {
	h := d.hash()
	if d.Err() != nil {
		return nil, d.Err()
	}
	r, err := s.take(ctx, h)
	if err != nil {
		return nil, err
	}
	return encodeRecord(r), nil
}

// replicateReply answers a batch of replication messages.
type replicateReply struct {
	need    [][32]byte // keys whose full state the backup needs: it met a gap
	refused [][32]byte // keys whose messages it refused under the view both hold
}

func (e encoder) replicateReply(r *replicateReply) encoder {
	return e.hashes(r.need).hashes(r.refused)
}

func (d *decoder) replicateReply() replicateReply {
	return replicateReply{need: d.hashes(), refused: d.hashes()}
}

// rpcReplicate applies a batch of replication messages. A copy is taken
// only by a node that holds the key under the view; a write only from
// the key's owner.
func (s *Store) rpcReplicate(ctx context.Context, d *decoder, from string) (encoder, error) {
	var reply replicateReply
	for n := d.uvarint(); n > 0 && d.Err() == nil; n-- {
		m, trace := d.tracedMessage()
		if d.Err() != nil {
			break
		}
		end := noEnd
		if trace != nil && s.cfg.Trace != nil {
			_, end = s.cfg.Trace.Start(s.cfg.Trace.Extract(ctx, trace), spanApply)
		}
		owners, _ := s.owners(m.h)
		if !slices.Contains(owners, s.cfg.Name) || (m.write && (len(owners) == 0 || owners[0] != from)) {
			reply.refused = append(reply.refused, m.h)
			s.metrics.fenced.Inc()
			end(errNotOwner)
			continue
		}
		if s.table.apply(m) {
			reply.need = append(reply.need, m.h)
		}
		end(nil)
	}
	return encoder(nil).replicateReply(&reply), nil
}

// rpcPull streams every copy this node holds of the keys the calling
// node (named in the body) owns or backs up.
func (s *Store) rpcPull(ctx context.Context, w http.ResponseWriter, _ string, body []byte) {
	d := newDecoder(body)
	node := d.string()
	if d.Err() != nil {
		http.Error(w, d.Err().Error(), http.StatusBadRequest)
		return
	}
	s.servePull(w, node)
}

func (e encoder) infos(v []sessionkit.Info) encoder {
	e = e.uvarint(uint64(len(v)))
	for i := range v {
		e = e.string(v[i].ID).meta(&v[i].Meta)
	}
	return e
}

func (d *decoder) infos() []sessionkit.Info {
	var v []sessionkit.Info
	for n := d.uvarint(); n > 0 && d.Err() == nil; n-- {
		v = append(v, sessionkit.Info{ID: d.string(), Meta: d.meta()})
	}
	return v
}

// rpcSessions lists the sessions of a principal that this node owns.
func (s *Store) rpcSessions(ctx context.Context, d *decoder, _ string) (encoder, error) {
	return encoder(nil).infos(s.ownedOf(d.string())), nil
}

// rpcRevoke deletes the sessions of a principal that this node owns, and
// answers how many.
func (s *Store) rpcRevoke(ctx context.Context, d *decoder, _ string) (encoder, error) {
	return encoder{}.uvarint(uint64(s.revokeOwned(ctx, d.string()))), nil
}
