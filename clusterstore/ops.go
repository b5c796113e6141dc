package clusterstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit"
)

// The operation path. Every operation on a session runs at the key's
// owner: here when this node owns it and holds its lease, else forwarded
// over the data plane. A write is applied at the owner, then replicated
// to its backups.

// maxAttempts bounds how often one operation follows a key that moves.
const maxAttempts = 4

// at runs an operation at the key's owner. When this node owns the key
// under its view and holds the key's lease, local runs it here, after
// reconciling the key if this node is warming. Otherwise the operation is
// forwarded over the data plane to path at the owner, with body; the node
// that receives it checks ownership under its own view (which the data
// plane has made equal to the sender's) and forwards it again if needed,
// at most maxHops times in all. An owner that crashed is waited for (up to
// FailoverWait) until gossip names the next; unless fallback, given,
// answers meanwhile.
func (s *Store) at(ctx context.Context, h [32]byte, path string, body func() encoder, local func(backups []string) (encoder, error), fallback func(owners []string) ([]byte, error)) ([]byte, error) {
	attempt := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		owners, v := s.owners(h)
		if len(owners) == 0 {
			return nil, unavailable(ErrNoNodes)
		}
		if owners[0] == s.cfg.Name {
			if !s.holds(v, owners) {
				if err := s.awaitLease(ctx, h); err != nil {
					return nil, err
				}
				continue // awaitLease is bounded: no attempt spent
			}
			attempt++
			if err := s.reconcile(ctx, h, v); err != nil {
				return nil, classify(err)
			}
			out, err := s.locally(local, owners[1:])
			if errors.Is(err, sessionkit.ErrNotFound) && s.adopt(ctx, h, v) {
				out, err = s.locally(local, owners[1:])
			}
			if errors.Is(err, errNotOwner) {
				if attempt < maxAttempts {
					continue
				}
				err = unavailable(err)
			}
			return out, err
		}
		if path == "" {
			return nil, errMoved
		}
		attempt++
		if hopsOf(ctx) >= maxHops {
			return nil, unavailable(errors.New("clusterstore: the nodes' views disagree"))
		}
		s.metrics.forwarded.Inc()
		fctx, end := s.start(ctx, spanForward)
		b, err := s.call(fctx, v.nodes[owners[0]].Data, path, body())
		end(classify(err))
		if err != nil && unreachable(ctx, err, fallback != nil) {
			if fallback != nil {
				if b, ferr := fallback(owners); ferr == nil {
					return b, nil
				}
			}
			if attempt < maxAttempts && s.awaitNewOwner(ctx, h, owners[0]) {
				continue
			}
		}
		return b, classify(err)
	}
}

// locally runs an operation here, as the key's owner.
func (s *Store) locally(local func(backups []string) (encoder, error), backups []string) (encoder, error) {
	s.writing.RLock()
	defer s.writing.RUnlock()
	return local(backups)
}

// settle waits for the writes in flight at this node as an owner to be
// acknowledged or undone.
func (s *Store) settle() {
	s.writing.Lock()
	//lint:ignore SA2001 a barrier: taking the lock is the point
	s.writing.Unlock()
}

// unreachable reports whether err says the peer did not answer: it
// refused the connection or closed it before the call was sent (it
// crashed), or let the call time out (it hangs). For a read, any broken
// connection will do: a read may run twice.
func unreachable(ctx context.Context, err error, read bool) bool {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return ctx.Err() == nil
	case read:
		var re *rpcError
		return !errors.As(err, &re) // not an answer
	}
	return false
}

// write applies a change here, as the key's owner, and replicates it. A
// write that a backup refused (this node no longer owns the key) is
// undone here, and the caller retries it at the new owner.
func (s *Store) write(ctx context.Context, backups []string, apply func() (message, error)) error {
	m, err := apply()
	if err != nil {
		return err
	}
	m.write = true
	err = s.replicate(ctx, m, backups)
	if errors.Is(err, errNotOwner) {
		s.table.undo(m)
	}
	return err
}

// Load implements sessionkit.Store. A session whose owner does not answer
// is read from its backups.
func (s *Store) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	r, found, err := s.loadRecord(ctx, t)
	if !found || err != nil {
		return sessionkit.Record{}, false, err
	}
	return sessionkit.Record{Meta: r.Meta(), Values: r.Values()}, true, nil
}

// LoadLazy implements sessionkit.LazyLoader, as Load does: values reads
// the record held here, or the one the owner sent.
func (s *Store) LoadLazy(ctx context.Context, t sessionkit.Token) (sessionkit.Meta, sessionkit.Values, bool, error) {
	r, found, err := s.loadRecord(ctx, t)
	if !found || err != nil {
		return sessionkit.Meta{}, nil, false, err
	}
	return r.Meta(), (*recordValues)(r), true, nil
}

// recordValues is a record as sessionkit.Values. A pointer, it is handed
// out without an allocation, where the Compact's own View is copied into
// one.
type recordValues record

func (v *recordValues) Value(key string) ([]byte, bool)         { return v.Compact.Value(key) }
func (v *recordValues) All(yield func(k string, v []byte) bool) { v.Compact.All(yield) }
func (v *recordValues) Size() int                               { return v.Compact.ValuesSize() }

// LazyStore implements sessionkit.LazyLoader: it returns s. A type that
// embeds *Store and overrides Load must override LoadLazy and LazyStore
// too, or the Manager reads it through its Load, never the embedded
// LoadLazy.
func (s *Store) LazyStore() sessionkit.Store { return s }

// loadRecord reads the session t names: here when this node owns it and
// holds it, otherwise at its owner.
func (s *Store) loadRecord(ctx context.Context, t sessionkit.Token) (*record, bool, error) {
	h := t.Hash()
	if owners, v := s.owners(h); len(owners) > 0 && owners[0] == s.cfg.Name && s.warm.Load() && s.holds(v, owners) {
		if r, ok := s.table.load(h); ok {
			return r, true, nil
		}
	}
	r, err := s.load(ctx, h)
	switch {
	case errors.Is(err, sessionkit.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return r, true, nil
}

// load reads a session at its owner.
func (s *Store) load(ctx context.Context, h [32]byte) (*record, error) {
	r, _, err := s.loadOp(ctx, h, 0)
	return r, err
}

// loadOp reads a session at its owner, and reports whether the record
// holds the write with id op (0: none) already.
func (s *Store) loadOp(ctx context.Context, h [32]byte, op uint64) (*record, bool, error) {
	b, err := s.at(ctx, h, "/rpc/load", func() encoder { return encoder{}.hash(h).op(op) }, func([]string) (encoder, error) {
		r, ok := s.table.load(h)
		if !ok {
			return nil, sessionkit.ErrNotFound
		}
		return encodeLoaded(r, r.applied(op)), nil
	}, func(owners []string) ([]byte, error) {
		// The owner does not answer. A warm backup's copy holds every
		// acknowledged write: the first backup's, or with AckAll any
		// backup's. A warming backup's answer proves nothing.
		backups := owners[1:]
		if s.cfg.Ack != AckAll {
			backups = backups[:min(1, len(backups))]
		}
		for _, name := range backups {
			if m, ok, err := s.copyAt(ctx, name, h, true); err == nil {
				s.metrics.backupReads.Inc()
				if !ok || m.kind != kindFull {
					return nil, sessionkit.ErrNotFound
				}
				r := newRecord(m.meta, m.values, m.version)
				r.ops = m.ops
				return encodeLoaded(r, r.applied(op)), nil
			}
		}
		return nil, errors.New("no warm backup answered")
	})
	if err != nil {
		return nil, false, err
	}
	return decodeLoaded(b)
}

// Create implements sessionkit.Store.
func (s *Store) Create(ctx context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	return t, s.create(ctx, t.Hash(), 0, rec.Meta, rec.Values)
}

// create creates a session at its owner. op is the write's id (0: a new
// one), kept through forwards and retries.
func (s *Store) create(ctx context.Context, h [32]byte, op uint64, meta sessionkit.Meta, values map[string][]byte) error {
	if op == 0 {
		op = newOp()
	}
	_, err := s.at(ctx, h, "/rpc/create", func() encoder {
		return encoder{}.createRequest(&createRequest{hash: h, meta: meta, values: values, op: op})
	}, func(backups []string) (encoder, error) {
		return nil, s.write(ctx, backups, func() (message, error) { return s.table.create(h, op, meta, values), nil })
	}, nil)
	return err
}

// Commit implements sessionkit.Store.
func (s *Store) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	return t, s.commit(ctx, t.Hash(), 0, d)
}

// commit applies a delta at the session's owner. op is the write's id (0:
// a new one), kept through forwards and retries.
func (s *Store) commit(ctx context.Context, h [32]byte, op uint64, d sessionkit.Delta) error {
	if op == 0 {
		op = newOp()
	}
	_, err := s.at(ctx, h, "/rpc/commit", func() encoder {
		return encoder{}.commitRequest(&commitRequest{hash: h, delta: d, op: op})
	}, func(backups []string) (encoder, error) {
		return nil, s.write(ctx, backups, func() (message, error) { return s.table.commit(h, op, d) })
	}, nil)
	return err
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, t sessionkit.Token, idleDeadline time.Time) (sessionkit.Token, error) {
	return s.Commit(ctx, t, sessionkit.Delta{IdleDeadline: idleDeadline})
}

// Update implements sessionkit.Store. At the owner, fn runs under the
// table's lock; elsewhere it runs here and the owner compares and sets,
// with bounded retries. Every attempt carries one operation id: an
// attempt that a node applied is not applied again by a later one.
func (s *Store) Update(ctx context.Context, t sessionkit.Token, key string, idleDeadline time.Time, fn sessionkit.UpdateFunc) (sessionkit.Token, error) {
	h := t.Hash()
	op := newOp()
	for attempt := range 64 {
		if owners, _ := s.owners(h); len(owners) > 0 && owners[0] == s.cfg.Name {
			_, err := s.at(ctx, h, "", nil, func(backups []string) (encoder, error) {
				return nil, s.write(ctx, backups, func() (message, error) {
					return s.table.write(h, once(h, op, func(r *record) (*record, message, error) {
						cur, ok := r.Value(key)
						next, err := fn(cur, ok)
						if err != nil {
							return nil, message{}, err
						}
						return r.with(h, key, next, idleDeadline)
					}))
				})
			}, nil)
			if !errors.Is(err, errMoved) {
				return t, err
			}
			continue
		}
		// The owner is another node: read there, compute here, and let
		// the owner compare and set.
		r, applied, err := s.loadOp(ctx, h, op)
		if err != nil {
			return t, err
		}
		cur, ok := r.Value(key)
		next := cur
		if !applied {
			if next, err = fn(cur, ok); err != nil {
				return t, err
			}
		}
		// An attempt applied already (at a node that has become the
		// owner since) is not computed again over a value that holds its
		// result: the swap, with the same id, applies nothing, makes the
		// write's copies again and answers success.
		err = s.swap(ctx, &swapRequest{hash: h, key: key, old: cur, oldOK: ok, next: next, deadline: idleDeadline, op: op})
		if !errors.Is(err, errSwapFailed) {
			return t, err
		}
		time.Sleep(time.Duration(rand.IntN(1+attempt)) * time.Millisecond)
	}
	return t, sessionkit.ErrConflict
}

// swap sets the key to next at the owner if its value is still old: the
// compare-and-set of an Update run off the owner.
func (s *Store) swap(ctx context.Context, r *swapRequest) error {
	if r.op == 0 {
		r.op = newOp()
	}
	_, err := s.at(ctx, r.hash, "/rpc/swap", func() encoder { return encoder{}.swapRequest(r) }, func(backups []string) (encoder, error) {
		return nil, s.write(ctx, backups, func() (message, error) {
			return s.table.swap(r.hash, r.op, r.key, r.old, r.oldOK, r.next, r.deadline)
		})
	}, nil)
	return err
}

// with returns the record with key set to value (nil: deleted) and the
// delta message that replicates it.
func (r *record) with(h [32]byte, key string, value []byte, idleDeadline time.Time) (*record, message, error) {
	d := sessionkit.Delta{IdleDeadline: idleDeadline}
	if value == nil {
		d.Deleted = []string{key}
	} else {
		d.Set = []sessionkit.Entry{{Key: key, Value: value}}
	}
	next, m := r.next(h, d)
	return next, m, nil
}

// Renew implements sessionkit.Store: the session is taken from the old
// token's owner and created under the new token at its owner.
func (s *Store) Renew(ctx context.Context, old, next sessionkit.Token) (sessionkit.Token, error) {
	r, err := s.take(ctx, old.Hash())
	if err != nil {
		return "", err
	}
	return s.Create(ctx, next, sessionkit.Record{Meta: r.Meta(), Values: r.Values()})
}

// take removes the session at its owner and returns it.
func (s *Store) take(ctx context.Context, h [32]byte) (*record, error) {
	b, err := s.at(ctx, h, "/rpc/take", func() encoder { return encoder{}.hash(h) }, func(backups []string) (encoder, error) {
		var r *record
		err := s.write(ctx, backups, func() (message, error) {
			var m message
			var err error
			r, m, err = s.table.take(h)
			return m, err
		})
		if err != nil {
			return nil, err
		}
		return encodeRecord(r), nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return decodeRecord(b)
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, t sessionkit.Token) error {
	if _, err := s.take(ctx, t.Hash()); err != nil && !errors.Is(err, sessionkit.ErrNotFound) {
		return err
	}
	return nil
}
