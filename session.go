package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Session is one request's view of its session. Handlers get it with
// FromContext. Its methods may be called from several goroutines of the
// handler, but not after the handler returned. Work outside a handler (a
// WebSocket message, a background job) gets one with Manager.Load and
// writes it with Commit, under the same rules.
//
// The session is loaded from the store on the first method call. If that
// load fails (the store is unreachable), reads return zero values, writes
// return the error, Err reports it, and the Manager answers the request with
// its ErrorHandler (503 by default) instead of the handler's response. A
// handler that must not act on an unavailable session checks Err first.
//
// Writes are kept in the request and committed once, as a delta, just
// before the response's header is written. Update, Renew and Destroy reach
// the store at once. A write after the commit returns ErrCommitted, and so
// does every write of a handler that wrote its response before its first
// session call: the commit has run, and nothing could reach the client.
//
// A renew that loses to a concurrent request (Renew or SetPrincipal finds
// the session already renewed or ended) returns ErrConflict, and so does
// every later write of the request; unless the response was committed
// already, the Manager answers with its ErrorHandler (409 by default) and
// sends no token, so the client keeps the one the winner sent.
type Session struct {
	m   *Manager
	r   *http.Request   // the request, nil for a session from Load
	ctx context.Context // the request's context, or the one given to Load
	raw string          // with r nil: the token given to Load

	mu        sync.Mutex
	loaded    bool
	err       error // load error
	lost      error // a renew lost to a concurrent request (ErrConflict)
	committed bool
	sent      bool  // the client sent a token
	tok       Token // the token the session is stored under; "" if none yet
	stored    bool  // the store holds a record under tok
	meta      Meta
	metaDirty bool
	tokDirty  bool                // the client must be sent tok (or told to drop it)
	base      Values              // values as loaded, nil for none; never modified
	set       pending             // values set by this request
	deleted   map[string]struct{} // keys deleted by this request
	updated   map[string][]byte   // values Update wrote to the store (nil: deleted)
}

// load loads the session if it is not loaded yet. s.mu is held.
func (s *Session) load() error {
	if s.loaded {
		return s.err
	}
	s.loaded = true
	raw := s.raw
	if s.r != nil {
		raw = s.m.cfg.Transport.Token(s.r)
	}
	s.sent = raw != ""
	if s.sent && s.m.checker(raw) {
		meta, values, found, err := s.m.loadRecord(s.ctx, Token(raw))
		if err != nil {
			s.err = s.m.storeErr("load", err)
			return s.err
		}
		if found && !meta.Expired(time.Now()) {
			s.tok, s.stored, s.meta, s.base = Token(raw), true, meta, values
			return nil
		}
	}
	s.fresh()
	return nil
}

// loadRecord loads the session t names, through LoadLazy when the store
// has it. values is nil when the session holds none.
func (m *Manager) loadRecord(ctx context.Context, t Token) (meta Meta, values Values, found bool, err error) {
	ctx, start := m.startOp(ctx, OpLoad)
	if m.lazy != nil {
		meta, values, found, err = m.lazy.LoadLazy(ctx, t)
	} else {
		var rec Record
		rec, found, err = m.store.Load(ctx, t)
		meta = rec.Meta
		if len(rec.Values) > 0 {
			values = mapValues(rec.Values)
		}
	}
	if m.cfg.Observer != nil {
		m.observe(ctx, OpLoad, start, valuesSize(values), found, err)
	}
	return meta, values, found, err
}

// fresh makes the session a new, empty one.
func (s *Session) fresh() {
	now := time.Now()
	cfg := &s.m.cfg
	s.tok, s.stored, s.base = "", false, nil
	s.meta = Meta{Created: now, IdleTimeout: cfg.IdleTimeout, IdleDeadline: now.Add(cfg.IdleTimeout), Deadline: now.Add(cfg.Lifetime)}
	s.set, s.deleted, s.updated = pending{}, nil, nil
	s.metaDirty = false
}

// begin locks the session, loads it and checks that it may still be
// written. The caller unlocks s.mu.
func (s *Session) begin(write bool) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	if err := s.load(); err != nil {
		return err
	}
	if write && s.lost != nil {
		return s.lost
	}
	if write && s.committed {
		return ErrCommitted
	}
	return nil
}

// Err loads the session if needed and reports whether it is usable: nil, or
// the error the load failed with.
func (s *Session) Err() error {
	if s == nil {
		return ErrNoSession
	}
	defer s.mu.Unlock()
	return s.begin(false)
}

// lookup returns a key's encoded value as this request sees it. s.mu is held.
func (s *Session) lookup(key string) ([]byte, bool) {
	if b, ok := s.set.get(key); ok {
		return b, true
	}
	if _, ok := s.deleted[key]; ok {
		return nil, false
	}
	if b, ok := s.updated[key]; ok {
		return b, b != nil
	}
	return s.inBase(key)
}

// inBase returns a key's value as loaded.
func (s *Session) inBase(key string) ([]byte, bool) {
	if s.base == nil {
		return nil, false
	}
	return s.base.Value(key)
}

// Get returns the value of key, and whether it is present. A value that
// does not decode reads as absent (and is logged).
func (s *Session) Get(key string) (any, bool) {
	if s == nil {
		return nil, false
	}
	defer s.mu.Unlock()
	if s.begin(false) != nil {
		return nil, false
	}
	return s.decode(key)
}

func (s *Session) decode(key string) (any, bool) {
	b, ok := s.lookup(key)
	if !ok {
		return nil, false
	}
	return s.decodeBytes(key, b)
}

// decodeBytes decodes b, the value of key.
func (s *Session) decodeBytes(key string, b []byte) (any, bool) {
	v, err := s.m.cfg.Codec.Decode(b)
	if err != nil {
		s.m.cfg.Logger.Warn("sessionkit: undecodable session value", "key", key, "err", err)
		return nil, false
	}
	return v, true
}

// Get returns the value of key as a T, and whether it is present and of
// type T.
func Get[T any](s *Session, key string) (T, bool) {
	var t T
	if s == nil {
		return t, false
	}
	defer s.mu.Unlock()
	if s.begin(false) != nil {
		return t, false
	}
	b, ok := s.lookup(key)
	if !ok {
		return t, false
	}
	if _, bin := s.m.cfg.Codec.(BinaryCodec); bin && decodeInto(b, &t) {
		return t, true
	}
	v, ok := s.decodeBytes(key, b)
	t, isT := v.(T)
	return t, ok && isT
}

// Pop returns the value of key as a T and deletes it, and whether it was
// present and of type T: a flash message, shown once. A value of another
// type is neither returned nor deleted.
func Pop[T any](s *Session, key string) (T, bool) {
	var zero T
	defer s.unlock()
	if s.begin(true) != nil {
		return zero, false
	}
	v, ok := s.decode(key)
	t, isT := v.(T)
	if !ok || !isT {
		return zero, false
	}
	s.deleteKey(key)
	return t, true
}

// Keys returns the session's keys, sorted.
func (s *Session) Keys() []string {
	if s == nil {
		return nil
	}
	defer s.mu.Unlock()
	if s.begin(false) != nil {
		return nil
	}
	return s.keys()
}

// keys returns the keys this request sees, sorted. s.mu is held. It
// gathers every key that may be present, from the loaded values and this
// request's own writes, then sorts them, drops repeats and keeps those
// lookup finds: one pass over the loaded values, and no map.
func (s *Session) keys() []string {
	if s.base == nil && s.set.len() == 0 && len(s.updated) == 0 {
		return nil
	}
	keys := make([]string, 0, s.set.len()+len(s.updated)+8)
	if s.base != nil {
		s.base.All(func(k string, _ []byte) bool {
			keys = append(keys, k)
			return true
		})
	}
	for _, e := range s.set.list {
		keys = append(keys, e.Key)
	}
	for k := range s.updated {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if s.set.len() > 0 || len(s.deleted) > 0 || len(s.updated) > 0 {
		// A key only the loaded values hold is present: the others are
		// present as lookup says.
		keys = slices.DeleteFunc(keys, func(k string) bool {
			if s.set.has(k) {
				return false
			}
			if _, ok := s.deleted[k]; ok {
				return true
			}
			u, ok := s.updated[k]
			return ok && u == nil
		})
	}
	if len(keys) == 0 {
		return nil // as for a session that holds nothing
	}
	return keys
}

// each calls fn for every key and encoded value as this request sees them.
// s.mu is held. It reads the loaded values once, in one pass: a base that
// scans for each Value would make a lookup per key quadratic.
func (s *Session) each(fn func(key string, b []byte)) {
	var dup map[string]struct{} // keys of set and updated that base holds too
	if s.base != nil {
		for k, b := range s.base.All {
			set, inSet := s.set.get(k)
			u, inUpdated := s.updated[k]
			if inSet || inUpdated {
				if dup == nil {
					dup = make(map[string]struct{}, s.set.len()+len(s.updated))
				}
				dup[k] = struct{}{}
			}
			if _, gone := s.deleted[k]; gone && !inSet {
				continue
			}
			switch {
			case inSet:
				fn(k, set)
			case inUpdated:
				if u != nil {
					fn(k, u)
				}
			default:
				fn(k, b)
			}
		}
	}
	for k := range s.updated {
		if _, ok := dup[k]; !ok {
			// Not in base, so lookup reads only this request's writes.
			if b, ok := s.lookup(k); ok {
				fn(k, b)
			}
		}
	}
	for _, e := range s.set.list {
		_, inBase := dup[e.Key]
		_, inUpdated := s.updated[e.Key]
		if !inBase && !inUpdated {
			fn(e.Key, e.Value)
		}
	}
}

// Set sets key to value. Values are encoded at once by the Manager's Codec,
// so an unencodable value is reported here.
func (s *Session) Set(key string, value any) error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	b, err := s.m.cfg.Codec.Encode(value)
	if err != nil {
		return err
	}
	s.setEncoded(key, b)
	return nil
}

func (s *Session) unlock() {
	if s != nil {
		s.mu.Unlock()
	}
}

func (s *Session) setEncoded(key string, b []byte) {
	s.set.put(key, b)
	delete(s.deleted, key)
}

// Delete removes key.
func (s *Session) Delete(key string) error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	s.deleteKey(key)
	return nil
}

func (s *Session) deleteKey(key string) {
	s.set.del(key)
	if s.deleted == nil {
		s.deleted = make(map[string]struct{}, 2)
	}
	s.deleted[key] = struct{}{}
}

// Pop returns the value of key and deletes it: a flash message, shown once.
func (s *Session) Pop(key string) (any, bool) {
	defer s.unlock()
	if s.begin(true) != nil {
		return nil, false
	}
	v, ok := s.decode(key)
	if ok {
		s.deleteKey(key)
	}
	return v, ok
}

// Clear removes every key. The session itself, its token and its principal
// stay; Destroy ends the session.
func (s *Session) Clear() error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	for _, k := range s.keys() {
		s.deleteKey(k)
	}
	return nil
}

// Update replaces the value of key with fn's result, atomically: fn gets
// the value as the store holds it now, and the store writes fn's result only
// if nobody changed the key meanwhile, calling fn again otherwise (a bounded
// number of times; then Update returns ErrConflict). fn may therefore run
// more than once and must have no side effects. Returning a nil value
// deletes the key. Use it for read-modify-write such as appending to a cart;
// concurrent Updates of one key never lose each other's changes.
//
// Update reaches the store at once. For a session that is not stored yet,
// or a key this request has already set or deleted, fn applies to the
// request's own value.
func (s *Session) Update(key string, fn func(old any, ok bool) (any, error)) error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	codec := s.m.cfg.Codec
	apply := func(old []byte, ok bool) ([]byte, error) {
		var v any
		if ok {
			var err error
			if v, err = codec.Decode(old); err != nil {
				return nil, err
			}
		}
		nv, err := fn(v, ok)
		if err != nil || nv == nil {
			return nil, err
		}
		return codec.Encode(nv)
	}
	pendingSet := s.set.has(key)
	_, pendingDel := s.deleted[key]
	if !s.stored || pendingSet || pendingDel {
		old, ok := s.lookup(key)
		b, err := apply(old, ok)
		if err != nil {
			return err
		}
		if b == nil {
			s.deleteKey(key)
		} else {
			s.setEncoded(key, b)
		}
		return nil
	}
	var result []byte
	deadline := time.Now().Add(s.meta.IdleTimeout)
	ctx, start := s.m.startOp(s.ctx, OpUpdate)
	t, err := s.m.store.Update(ctx, s.tok, key, deadline, func(old []byte, ok bool) ([]byte, error) {
		b, err := apply(old, ok)
		result = b
		return b, err
	})
	s.m.observe(ctx, OpUpdate, start, len(result), !errors.Is(err, ErrNotFound), err)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("sessionkit: update: session ended meanwhile: %w", ErrConflict)
	case err != nil:
		return s.m.storeErr("update", err)
	}
	if s.updated == nil {
		s.updated = make(map[string][]byte, 1)
	}
	s.updated[key] = result
	s.meta.IdleDeadline = deadline
	s.setToken(t)
	return nil
}

// setToken records the token the store returned. s.mu is held.
func (s *Session) setToken(t Token) {
	if t != s.tok {
		s.tok, s.tokDirty = t, true
	}
}

// Renew moves the session to a new token and kills the old one, keeping its
// data: call it whenever the user's privileges change, to defeat session
// fixation (SetPrincipal calls it).
//
// A concurrent request that still holds the old token keeps the session it
// loaded; if it then commits changes, its commit finds no session and it is
// answered with ErrConflict (409 by default): its changes are not written,
// and the client, by then holding the new token, may retry. If it renews
// too (a login submitted twice), its renew finds the session gone and
// returns ErrConflict; so does every later write of that request, and its
// response is the ErrorHandler's (409 by default) with no token, so the
// client keeps the winner's. A renew of a session another request deleted
// returns ErrConflict the same way, and nothing of the request is written.
// A request with the old token that arrives after the renew gets a new,
// empty session.
func (s *Session) Renew() error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	return s.renew()
}

func (s *Session) renew() error {
	next, err := s.m.mint(s.ctx)
	if err != nil {
		return err
	}
	if !s.stored {
		s.tok, s.tokDirty = next, true
		return nil
	}
	ctx, start := s.m.startOp(s.ctx, OpRenew)
	t, err := s.m.store.Renew(ctx, s.tok, next)
	s.m.observe(ctx, OpRenew, start, 0, !errors.Is(err, ErrNotFound), err)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		// A concurrent request renewed or ended the session first. Starting
		// afresh would drop its data and, through the new token, the
		// winner's session from the client: the request loses instead.
		s.lost = fmt.Errorf("sessionkit: renew: the session was renewed or ended meanwhile: %w", ErrConflict)
		return s.lost
	case err != nil:
		return s.m.storeErr("renew", err)
	}
	if s.m.cfg.Observer != nil {
		s.m.changed(s.ctx, Renewed, t, s.tok, s.meta.Principal)
	}
	s.tok, s.tokDirty = t, true
	return nil
}

// Destroy deletes the session from the store at once and empties it. If the
// handler writes to the session afterwards, a new session with a new token
// is created; otherwise the client is told to drop its token.
func (s *Session) Destroy() error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	if s.stored {
		ctx, start := s.m.startOp(s.ctx, OpDelete)
		err := s.m.store.Delete(ctx, s.tok)
		s.m.observe(ctx, OpDelete, start, 0, true, err)
		if err != nil {
			return s.m.storeErr("delete", err)
		}
		if s.m.cfg.Observer != nil {
			s.m.changed(s.ctx, Destroyed, s.tok, "", s.meta.Principal)
		}
	}
	s.fresh()
	s.tokDirty = true
	return nil
}

// Principal returns the user the session belongs to, "" if anonymous.
func (s *Session) Principal() string {
	if s == nil {
		return ""
	}
	defer s.mu.Unlock()
	if s.begin(false) != nil {
		return ""
	}
	return s.meta.Principal
}

// SetPrincipal records the user the session belongs to (log in), or "" (log
// out), so that the store can list and revoke the user's sessions. When the
// principal changes, the session is renewed (new token, same data), as
// OWASP asks at every privilege change. If a concurrent request renewed
// or ended the session first, it returns ErrConflict, as Renew does.
func (s *Session) SetPrincipal(principal string) error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	if principal == s.meta.Principal {
		return nil
	}
	if err := s.renew(); err != nil {
		return err
	}
	s.meta.Principal = principal
	s.metaDirty = true
	return nil
}

// RememberMe makes the session a persistent one that lasts the Manager's
// RememberMeLifetime from its creation and whose cookie survives browser
// restarts (on), or a browser-session one with the normal Lifetime (off).
func (s *Session) RememberMe(on bool) error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	life := s.m.cfg.Lifetime
	if on {
		life = s.m.cfg.RememberMeLifetime
	}
	s.meta.Persistent = on
	s.meta.Deadline = s.meta.Created.Add(life)
	s.metaDirty, s.tokDirty = true, true
	return nil
}

// SetTimeouts overrides the Manager's idle timeout and lifetime for this
// session; a zero value keeps the current one. The lifetime counts from the
// session's creation.
func (s *Session) SetTimeouts(idle, lifetime time.Duration) error {
	defer s.unlock()
	if err := s.begin(true); err != nil {
		return err
	}
	if idle > 0 {
		s.meta.IdleTimeout = idle
		s.meta.IdleDeadline = time.Now().Add(idle) // where the commit moves it
	}
	if lifetime > 0 {
		s.meta.Deadline = s.meta.Created.Add(lifetime)
	}
	s.metaDirty, s.tokDirty = true, true
	return nil
}

// Deadline returns when the session ends at the latest: the earlier of its
// idle deadline and its absolute deadline.
func (s *Session) Deadline() time.Time {
	if s == nil {
		return time.Time{}
	}
	defer s.mu.Unlock()
	if s.begin(false) != nil {
		return time.Time{}
	}
	if s.meta.IdleDeadline.Before(s.meta.Deadline) {
		return s.meta.IdleDeadline
	}
	return s.meta.Deadline
}
