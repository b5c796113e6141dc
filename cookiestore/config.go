package cookiestore

import (
	"github.com/sessionkit/sessionkit"
)

// Cipher is the AEAD that seals sessions. Every cookie records the cipher
// it was sealed with, so changing Config.Cipher never breaks cookies already
// handed out.
type Cipher uint8

const (
	// XChaCha20Poly1305 is the default. Its 192-bit random nonce never
	// repeats in practice, however many cookies one key seals.
	XChaCha20Poly1305 Cipher = iota
	// AES256GCM is AES-256 in GCM mode with a 96-bit random nonce. A key
	// may seal only about 2^32 values before a repeated nonce becomes
	// likely enough to matter (NIST SP 800-38D); since every commit and
	// touch seals anew, a cluster resealing 10,000 cookies a second
	// reaches that in five days, and must rotate its key faster.
	AES256GCM

	numCiphers = 2
)

func (c Cipher) String() string {
	switch c {
	case XChaCha20Poly1305:
		return "xchacha20-poly1305"
	case AES256GCM:
		return "aes-256-gcm"
	}
	return "unknown cipher"
}

func (c Cipher) nonceSize() int {
	if c == AES256GCM {
		return 12
	}
	return 24
}

// Compression is how a session is compressed before it is sealed.
type Compression uint8

const (
	// S2 is the default: github.com/klauspost/compress/s2, an LZ77
	// compressor that costs a few microseconds for a 2 KB session and
	// roughly halves typical session data.
	S2 Compression = iota
	// Zstd compresses typical session data about a third better than
	// S2 but costs several times as long to seal and to open.
	Zstd
	// NoCompression never compresses.
	NoCompression
)

// Config configures a Store. Keys is required; the zero value of every
// other field is its default.
type Config struct {
	// Keys is the key ring: exactly one sealing key and any number of
	// open-only ones (see Key for rotation). ParseKeys reads it from
	// configuration. No default.
	Keys []Key

	// Cipher seals new cookies. Default XChaCha20Poly1305.
	Cipher Cipher

	// Name is the name of the cookie the sealed session travels in,
	// bound into every sealed value as associated data: a value cut
	// from one cookie (or one application sharing the keys) does not
	// open under another name. Set it to the transport's CookieName().
	// Default "__Host-session", the default transport's cookie.
	Name string

	// Purpose is a second label bound into every sealed value, for
	// applications that use one key ring for several kinds of cookie.
	// Default "session".
	Purpose string

	// MaxTokenLen caps the length of a sealed token. A write whose
	// token would be longer fails with sessionkit.ErrTooLarge and
	// writes nothing, so the client keeps its previous cookie; Load
	// refuses longer tokens unread. Set it to the transport's
	// MaxTokenLen(). Default: the default CookieTransport's
	// MaxTokenLen(), two cookies of 4096 bytes, whose Cookie request
	// header stays under nginx's default 8 KB header buffer.
	MaxTokenLen int

	// Compression compresses sessions of CompressMin bytes or more,
	// when that makes them smaller. Default S2.
	//
	// Compressing data an attacker chooses beside a secret leaks, through
	// the cookie's length, whether the attacker's guess matches the
	// secret (as CRIME and BREACH did for TLS and HTTP): if a page
	// stores a search term next to a CSRF token and an attacker can see
	// cookie lengths on the wire, each guess that shares a prefix with
	// the token makes the cookie shorter. Use NoCompression when a
	// session holds both secrets and values a third party can choose.
	Compression Compression

	// CompressMin is the smallest encoded session that is compressed:
	// below a few hundred bytes compression rarely pays. Default 512.
	CompressMin int

	// MaxDecompressed caps the decompressed size of a session when it
	// is opened. Values are authenticated before they are decompressed,
	// so only a holder of a key could forge a larger one; the cap is a
	// second line of defence. Default 2 MiB, twice the Manager's
	// default MaxSize.
	MaxDecompressed int

	// Generations, when set, makes sessions revocable: each session
	// seals its principal's generation, RevokeAll bumps it, and Load
	// refuses a session whose generation is not the principal's current
	// one. It costs one Generation read per request that loads a
	// logged-in session. A memstore.Store serves a single node; a
	// cluster needs a shared one (the SQL or Redis store). A failed
	// read is an error (the Manager answers 503): revocation fails
	// closed. Default nil: no revocation.
	Generations sessionkit.Generations

	// RevokeSessions, with Generations, makes Delete and Renew revoke
	// the cookie they end: the payload carries a session ID, Delete and
	// Renew bump a counter named after it ("sessionkit/sid/" and the ID
	// in hex), and Load refuses a session whose counter is not zero.
	// It costs one more counter read per request that carries a sealed
	// session, anonymous or not (read with the principal's generation, in
	// one round trip, when Generations implements
	// sessionkit.MultiGenerations, as memstore, pgstore, sqlitestore and
	// redisstore do), and one counter per ended session: until the
	// session's deadline when Generations implements
	// sessionkit.ExpiringGenerations (the same stores do), for good
	// otherwise. Default false: a deleted or renewed cookie opens until
	// its deadlines.
	RevokeSessions bool
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = (&sessionkit.CookieTransport{}).CookieName()
	}
	if c.Purpose == "" {
		c.Purpose = "session"
	}
	if c.MaxTokenLen <= 0 {
		c.MaxTokenLen = (&sessionkit.CookieTransport{}).MaxTokenLen()
	}
	if c.CompressMin <= 0 {
		c.CompressMin = 512
	}
	if c.MaxDecompressed <= 0 {
		c.MaxDecompressed = 2 << 20
	}
}
