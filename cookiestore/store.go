package cookiestore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/sessionkit/sessionkit"
)

// Store is a client-side sessionkit.Store: every session is sealed into the
// token the client holds. It keeps no session state; with
// Config.Generations it reads (and, on revocation, bumps) counters there.
// Its methods are safe for concurrent use.
type Store struct {
	cfg    Config
	ring   *ring
	minLen int // shortest well-formed token
}

var (
	_ sessionkit.Store        = (*Store)(nil)
	_ sessionkit.TokenChecker = (*Store)(nil)
	_ sessionkit.Principals   = (*Store)(nil)
)

// New returns a Store configured by cfg. It fails when the key ring is
// invalid (see ParseKeys) or the configuration contradicts itself.
func New(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if cfg.Cipher >= numCiphers {
		return nil, fmt.Errorf("%w: unknown cipher %d", ErrConfig, cfg.Cipher)
	}
	if cfg.Compression > NoCompression {
		return nil, fmt.Errorf("%w: unknown compression %d", ErrConfig, cfg.Compression)
	}
	if cfg.RevokeSessions && cfg.Generations == nil {
		return nil, fmt.Errorf("%w: RevokeSessions needs Generations", ErrConfig)
	}
	r, err := newRing(cfg.Keys)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, ring: r}
	prefix := fmt.Appendf(nil, "sessionkit/cookiestore\x00%s\x00%s\x00", cfg.Purpose, cfg.Name)
	for _, keys := range r.byID {
		for _, k := range keys {
			for f := range k.ad {
				k.ad[f] = append(slices.Clip(prefix), formatVersion, byte(f), k.id)
			}
		}
	}
	s.minLen = base64.RawURLEncoding.EncodedLen(headerLen + AES256GCM.nonceSize() + tagLen + minPayload)
	if s.minLen > cfg.MaxTokenLen {
		return nil, fmt.Errorf("%w: MaxTokenLen %d is shorter than the shortest sealed session", ErrConfig, cfg.MaxTokenLen)
	}
	return s, nil
}

// MaxTokenLen returns the longest token the store seals or opens.
func (s *Store) MaxTokenLen() int { return s.cfg.MaxTokenLen }

// b64 maps a base64url character to its value, or 0xff.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// header decodes the three header bytes from the token's first four
// characters.
func header(tok string) (version, flags, id byte, ok bool) {
	if len(tok) < 4 {
		return 0, 0, 0, false
	}
	a, b, c, d := b64[tok[0]], b64[tok[1]], b64[tok[2]], b64[tok[3]]
	if a|b|c|d == 0xff {
		return 0, 0, 0, false
	}
	return a<<2 | b>>4, b<<4 | c>>2, c<<6 | d, true
}

func cipherOf(flags byte) Cipher {
	if flags&flagGCM != 0 {
		return AES256GCM
	}
	return XChaCha20Poly1305
}

// CookieBinding implements sessionkit.CookieBound: the cookie the store
// seals for (Config.Name) and the longest token it writes
// (Config.MaxTokenLen). sessionkit.New refuses a transport that does not
// match them.
func (s *Store) CookieBinding() (name string, maxTokenLen int) {
	return s.cfg.Name, s.cfg.MaxTokenLen
}

// ValidToken implements sessionkit.TokenChecker: a cheap check of the
// token's length and header (format version, flags, a key ID the ring
// holds), before any cryptography. The Manager starts a fresh session for a
// token it rejects.
func (s *Store) ValidToken(tok string) bool {
	if len(tok) < s.minLen || len(tok) > s.cfg.MaxTokenLen || len(tok)%4 == 1 {
		return false
	}
	v, f, id, ok := header(tok)
	if !ok || v != formatVersion || f&^flagsKnown != 0 || f&flagCompression > compressZstd {
		return false
	}
	if len(s.ring.byID[id]) == 0 {
		return false
	}
	return len(tok) >= base64.RawURLEncoding.EncodedLen(headerLen+cipherOf(f).nonceSize()+tagLen+minPayload)
}

// associatedData returns the associated data of a value with these header
// bytes, made once per key and flags in New.
func (k *ringKey) associatedData(hdr []byte) []byte { return k.ad[hdr[1]&flagsKnown] }

var strictBase64 = base64.RawURLEncoding.Strict()

// unseal opens a token without checking its deadlines: nil when it is not
// a well-formed token sealed by a key of the ring. It also returns the key
// and cipher that opened it.
func (s *Store) unseal(tok string) (*payload, *ringKey, Cipher) {
	if !s.ValidToken(tok) {
		return nil, nil, 0
	}
	// Decode reads the token's bytes in place, without a copy. The buffer
	// goes back to the pool unless the payload's values point into it
	// (an uncompressed payload opened in place).
	bp := getBuf(strictBase64.DecodedLen(len(tok)))
	buf := (*bp)[:strictBase64.DecodedLen(len(tok))]
	inUse := false
	defer func() {
		if !inUse {
			putBuf(bp)
		}
	}()
	n, err := strictBase64.Decode(buf, unsafe.Slice(unsafe.StringData(tok), len(tok)))
	if err != nil {
		return nil, nil, 0
	}
	buf = buf[:n]
	c := cipherOf(buf[1])
	ns := c.nonceSize()
	nonce, sealed := buf[headerLen:headerLen+ns], buf[headerLen+ns:]
	keys := s.ring.byID[buf[2]]
	for _, k := range keys {
		dst := sealed[:0] // in place when one key has this ID
		if len(keys) > 1 {
			dst = nil // a failed Open may overwrite dst
		}
		pt, err := k.aead[c].Open(dst, nonce, sealed, k.associatedData(buf))
		if err != nil {
			continue
		}
		pt, err = decompress(buf[1]&flagCompression, pt, s.cfg.MaxDecompressed)
		if err != nil {
			return nil, nil, 0
		}
		p, err := decodePayload(pt)
		if err != nil {
			return nil, nil, 0
		}
		inUse = buf[1]&flagCompression == compressNone && len(keys) == 1
		return p, k, c
	}
	return nil, nil, 0
}

// sidKey is the name of a session's revocation counter in Generations.
func sidKey(sid []byte) string { return "sessionkit/sid/" + hex.EncodeToString(sid) }

func newSID() []byte {
	b := make([]byte, sidLen)
	rand.Read(b) // never fails
	return b
}

// open returns the live session the token holds, the key and cipher that
// opened it, or sessionkit.ErrNotFound. Other errors come from Generations.
func (s *Store) open(ctx context.Context, t sessionkit.Token, now time.Time) (*payload, *ringKey, Cipher, error) {
	p, k, c := s.unseal(string(t))
	if p == nil || p.meta.Expired(now) {
		return nil, nil, 0, sessionkit.ErrNotFound
	}
	g := s.cfg.Generations
	if g == nil {
		return p, k, c, nil
	}
	// The principal's generation, for a logged-in session, and the
	// session's revocation counter, with RevokeSessions.
	var buf [2]string
	names := buf[:0]
	byPrincipal, bySID := p.meta.Principal != "", s.cfg.RevokeSessions && p.sid != nil
	if byPrincipal {
		names = append(names, p.meta.Principal)
	}
	if bySID {
		names = append(names, sidKey(p.sid))
	}
	if len(names) == 0 {
		return p, k, c, nil
	}
	gens, err := counters(ctx, g, names)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cookiestore: read the session's revocation counters: %w", err)
	}
	if byPrincipal && gens[0] != p.meta.Generation || bySID && gens[len(gens)-1] != 0 {
		return nil, nil, 0, sessionkit.ErrNotFound // revoked, deleted or renewed
	}
	return p, k, c, nil
}

// counters reads the named counters of g: in one round trip when g reads
// several at once (sessionkit.MultiGenerations), one by one otherwise.
func counters(ctx context.Context, g sessionkit.Generations, names []string) ([]uint64, error) {
	if mg, ok := g.(sessionkit.MultiGenerations); ok && len(names) > 1 {
		gens, err := mg.Generations(ctx, names...)
		if err == nil && len(gens) != len(names) {
			err = fmt.Errorf("%d counters for %d names: %w", len(gens), len(names), sessionkit.ErrUnavailable)
		}
		return gens, err
	}
	gens := make([]uint64, len(names))
	for i, n := range names {
		v, err := g.Generation(ctx, n)
		if err != nil {
			return nil, err
		}
		gens[i] = v
	}
	return gens, nil
}

// seal returns the token holding p, or sessionkit.ErrTooLarge.
func (s *Store) seal(p *payload) (sessionkit.Token, error) {
	if s.cfg.RevokeSessions && p.sid == nil {
		p.sid = newSID()
	}
	c, k := s.cfg.Cipher, s.ring.seal
	ns := c.nonceSize()
	start := headerLen + ns
	bp := getBuf(start + p.size() + tagLen)
	defer putBuf(bp) // the token is a copy: base64 of buf
	buf := appendPayload((*bp)[:start], p)
	var cflag byte
	if s.cfg.Compression != NoCompression && len(buf)-start >= s.cfg.CompressMin {
		var out []byte
		if out, cflag = compress(s.cfg.Compression, buf[:start], buf[start:]); cflag != compressNone {
			buf = out
		}
	}
	n := base64.RawURLEncoding.EncodedLen(len(buf) + tagLen)
	if n > s.cfg.MaxTokenLen {
		return "", fmt.Errorf("cookiestore: sealed session of %d bytes over the budget of %d: %w", n, s.cfg.MaxTokenLen, sessionkit.ErrTooLarge)
	}
	buf[0], buf[1], buf[2] = formatVersion, cflag, k.id
	if c == AES256GCM {
		buf[1] |= flagGCM
	}
	buf = slices.Grow(buf, tagLen) // so that Seal works in place
	nonce := buf[headerLen:start]
	rand.Read(nonce) // never fails
	sealed := k.aead[c].Seal(buf[start:start], nonce, buf[start:], k.associatedData(buf))
	out := make([]byte, n)
	base64.RawURLEncoding.Encode(out, buf[:start+len(sealed)])
	// Keep what Grow or compress made for the next seal.
	*bp = buf[:0]
	return sessionkit.Token(unsafe.String(&out[0], len(out))), nil // out is never written again
}

// bufs holds the scratch buffers of seal and unseal: the plaintext before
// it is sealed and encoded, the decoded token before it is opened and
// decompressed.
var bufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooled is the largest buffer kept in bufs: a few cookies' worth.
const maxPooled = 64 << 10

// getBuf returns a buffer of capacity n or more from the pool.
func getBuf(n int) *[]byte {
	bp := bufs.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, 0, n)
	}
	return bp
}

func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooled {
		bufs.Put(bp)
	}
}

// Load implements sessionkit.Store. A token that does not open, has expired
// or was revoked loads as not found.
//
// A session opened with an open-only key (or sealed with another cipher
// than Config.Cipher) is reported with its idle deadline pulled in to at
// most max(IdleTimeout/64, 1s) ahead, never later than its own: the
// Manager's touch logic then reseals it with the sealing key on this very
// request, even a read-only one (unless the Manager's TouchAfter is above
// 1-1/64). The session itself keeps its deadlines.
func (s *Store) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	now := time.Now()
	p, k, c, err := s.open(ctx, t, now)
	switch {
	case errors.Is(err, sessionkit.ErrNotFound):
		return sessionkit.Record{}, false, nil
	case err != nil:
		return sessionkit.Record{}, false, err
	}
	rec := p.record()
	if k.openOnly || c != s.cfg.Cipher {
		if dl := now.Add(max(p.meta.IdleTimeout/64, time.Second)); dl.Before(rec.IdleDeadline) {
			rec.IdleDeadline = dl
		}
	}
	return rec, true, nil
}

// generation returns the principal's current generation, 0 for none or
// without Generations.
func (s *Store) generation(ctx context.Context, principal string, sealed uint64) (uint64, error) {
	if s.cfg.Generations == nil {
		return sealed, nil
	}
	if principal == "" {
		return 0, nil
	}
	g, err := s.cfg.Generations.Generation(ctx, principal)
	if err != nil {
		return 0, fmt.Errorf("cookiestore: read the principal's generation: %w", err)
	}
	return g, nil
}

// Create implements sessionkit.Store. The minted token t is not used: the
// returned sealed session is the token. With Generations, the session
// seals its principal's current generation in place of rec.Generation.
func (s *Store) Create(ctx context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p := &payload{meta: rec.Meta, values: rec.Values}
	g, err := s.generation(ctx, rec.Principal, rec.Generation)
	if err != nil {
		return "", err
	}
	p.meta.Generation = g
	return s.seal(p)
}

// write opens t, applies change and seals the result.
func (s *Store) write(ctx context.Context, t sessionkit.Token, change func(p *payload) error) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, _, _, err := s.open(ctx, t, time.Now())
	if err != nil {
		return "", err
	}
	if err := change(p); err != nil {
		return "", err
	}
	return s.seal(p)
}

// Commit implements sessionkit.Store: it opens the token, applies the delta
// and seals the result. With Generations, a Meta that changes the principal
// seals the new principal's current generation; one that keeps it keeps the
// sealed generation.
//
// With RevokeSessions, a Meta that brings the session's deadline earlier
// (remember-me turned off, a shorter lifetime) also gives the session a
// new id and revokes the old one until the old deadline: a copy of the
// cookie taken before must not outlive a later revocation of the session.
func (s *Store) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	var oldSID []byte
	var oldDeadline time.Time
	t, err := s.write(ctx, t, func(p *payload) error {
		if d.Meta != nil {
			old := p.meta
			if s.cfg.RevokeSessions && p.sid != nil && d.Meta.Deadline.Before(old.Deadline) {
				oldSID, oldDeadline, p.sid = p.sid, old.Deadline, newSID()
			}
			p.meta = *d.Meta
			if s.cfg.Generations != nil {
				if d.Meta.Principal == old.Principal {
					p.meta.Generation = old.Generation
				} else {
					g, err := s.generation(ctx, d.Meta.Principal, 0)
					if err != nil {
						return err
					}
					p.meta.Generation = g
				}
			}
		}
		p.meta.IdleDeadline = d.IdleDeadline
		if len(d.Set) > 0 || len(d.Deleted) > 0 {
			values := make(map[string][]byte, len(p.values)+len(d.Set))
			maps.Copy(values, p.values)
			for _, e := range d.Set {
				values[e.Key] = e.Value
			}
			for _, k := range d.Deleted {
				delete(values, k)
			}
			p.values = values
		}
		return nil
	})
	if err != nil || oldSID == nil {
		return t, err
	}
	if err := s.retire(ctx, oldSID, oldDeadline, "commit"); err != nil {
		return "", err
	}
	return t, nil
}

// Touch implements sessionkit.Store: it reseals the session with the new
// idle deadline (and the current sealing key).
func (s *Store) Touch(ctx context.Context, t sessionkit.Token, idleDeadline time.Time) (sessionkit.Token, error) {
	return s.write(ctx, t, func(p *payload) error {
		p.meta.IdleDeadline = idleDeadline
		return nil
	})
}

// Update implements sessionkit.Store: it applies fn to the value the token
// holds and reseals. It is atomic only within one request: two requests
// that update the same session concurrently each start from their own
// cookie, and the client keeps whichever response came last.
func (s *Store) Update(ctx context.Context, t sessionkit.Token, key string, idleDeadline time.Time, fn sessionkit.UpdateFunc) (sessionkit.Token, error) {
	return s.write(ctx, t, func(p *payload) error {
		old, ok := p.values[key]
		b, err := fn(old, ok)
		if err != nil {
			return err
		}
		values := make(map[string][]byte, len(p.values)+1)
		maps.Copy(values, p.values)
		if b == nil {
			delete(values, key)
		} else {
			values[key] = b
		}
		p.values = values
		p.meta.IdleDeadline = idleDeadline
		return nil
	})
}

// Renew implements sessionkit.Store: it reseals the session under a fresh
// nonce (the minted token next is not used). Without RevokeSessions the old
// token still opens, to the session as it was, until its deadlines; with
// it, the old token names no session afterwards, and of concurrent renews
// of one token only the one whose revocation comes first wins: the others,
// like a renew racing a Delete, return sessionkit.ErrNotFound.
func (s *Store) Renew(ctx context.Context, old, next sessionkit.Token) (sessionkit.Token, error) {
	var oldSID []byte
	var deadline time.Time
	t, err := s.write(ctx, old, func(p *payload) error {
		if s.cfg.RevokeSessions {
			oldSID, p.sid = p.sid, newSID()
			deadline = p.meta.Deadline
		}
		return nil
	})
	if err != nil || oldSID == nil {
		return t, err
	}
	if err := s.retire(ctx, oldSID, deadline, "renew"); err != nil {
		return "", err
	}
	return t, nil
}

// retire revokes sid, an id the session no longer uses, until deadline,
// the last a cookie carrying it opens. The counter is the compare-and-set
// that makes one of concurrent retirements win: the others (another
// renew, a delete) revoked the id first and get sessionkit.ErrNotFound.
func (s *Store) retire(ctx context.Context, sid []byte, deadline time.Time, op string) error {
	n, err := s.revoke(ctx, sid, deadline)
	if err != nil {
		return fmt.Errorf("cookiestore: %s: revoke the session's former id: %w", op, err)
	}
	if n != 1 {
		return fmt.Errorf("cookiestore: %s: the session was renewed or deleted meanwhile: %w", op, sessionkit.ErrNotFound)
	}
	return nil
}

// Delete implements sessionkit.Store. Without RevokeSessions it does
// nothing: the Manager tells the client to drop its cookie, but a copy of
// the cookie still opens until its deadlines. With it, the token names no
// session afterwards.
func (s *Store) Delete(ctx context.Context, t sessionkit.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.cfg.RevokeSessions {
		return nil
	}
	p, _, _, err := s.open(ctx, t, time.Now())
	switch {
	case errors.Is(err, sessionkit.ErrNotFound):
		return nil
	case err != nil:
		return err
	case p.sid == nil:
		return nil
	}
	if _, err := s.revoke(ctx, p.sid, p.meta.Deadline); err != nil {
		return fmt.Errorf("cookiestore: revoke the session: %w", err)
	}
	return nil
}

// revoke bumps the revocation counter of the session sid, which ends at
// deadline, and returns the counter (1 for the first revocation): with
// sessionkit.ExpiringGenerations the counter is kept only that long, since
// the cookie no longer opens afterwards anyway.
func (s *Store) revoke(ctx context.Context, sid []byte, deadline time.Time) (uint64, error) {
	if eg, ok := s.cfg.Generations.(sessionkit.ExpiringGenerations); ok {
		// A minute of margin for clocks that differ between the nodes
		// and the counters' store; a counter costs a few bytes.
		return eg.BumpUntil(ctx, sidKey(sid), deadline.Add(time.Minute))
	}
	return s.cfg.Generations.Bump(ctx, sidKey(sid))
}

// Sessions implements sessionkit.Principals. It always fails with an error
// wrapping sessionkit.ErrNotSupported: the sessions live in their clients'
// cookies, and no server knows them. (An empty list would claim the
// principal has none.)
func (s *Store) Sessions(ctx context.Context, principal string) ([]sessionkit.Info, error) {
	return nil, fmt.Errorf("cookiestore: client-side sessions cannot be listed: %w", sessionkit.ErrNotSupported)
}

// RevokeAll implements sessionkit.Principals: it bumps the principal's
// generation, which every request then compares with the one its session
// sealed, and returns -1 (the store cannot count the cookies it revoked).
// Without Generations it fails with an error wrapping
// sessionkit.ErrNotSupported.
func (s *Store) RevokeAll(ctx context.Context, principal string) (int, error) {
	if s.cfg.Generations == nil {
		return 0, fmt.Errorf("cookiestore: revocation needs Config.Generations: %w", sessionkit.ErrNotSupported)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if _, err := s.cfg.Generations.Bump(ctx, principal); err != nil {
		return 0, fmt.Errorf("cookiestore: revoke: %w", err)
	}
	return -1, nil
}
