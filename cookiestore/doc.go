// Package cookiestore keeps sessions on the client: the whole session,
// sealed with an AEAD, is the token the client holds in its cookie, and no
// server keeps any state for it (strategy 2 of sessionkit's design). Any
// node that holds the keys serves any request.
//
//	keys, err := cookiestore.ParseKeys(os.Getenv("SESSIONKIT_COOKIE_KEYS"))
//	store, err := cookiestore.New(cookiestore.Config{Keys: keys})
//	mgr, err := sessionkit.New(store, sessionkit.Config{})
//
// # Sealing
//
// A session is encoded in a small binary format (metadata, then each key
// and its value as the Manager's Codec encoded it), compressed when that
// pays, and sealed with XChaCha20-Poly1305 (the default) or AES-256-GCM,
// under a fresh random nonce each time. The cookie's name and a purpose
// string are bound as associated data, so a value cut from one cookie does
// not open in another. The token starts with a format version byte, a flags
// byte (compression, cipher) and a one-byte key ID, and is encoded as
// unpadded base64url. The Manager's CookieTransport splits a long token over
// several cookies and joins them back; a token that does not fit
// Config.MaxTokenLen is never written (sessionkit.ErrTooLarge) and the
// client keeps its previous cookie.
//
// XChaCha20-Poly1305 is the default because its 192-bit nonce can be drawn
// at random forever. AES-256-GCM's 96-bit random nonce allows about 2^32
// seals per key before a repeat becomes a real risk, and a repeat under GCM
// reveals the authentication key; every commit and every touch seals anew,
// so a cluster sealing 10,000 cookies a second uses that up in five days.
//
// The Manager's minted token (the t given to Create and Renew) is not used:
// the sealed session is the token. A session ID, random, is sealed only when
// Config.RevokeSessions needs one.
//
// Expiry is enforced on open, from the deadlines sealed in the session,
// whatever the cookie's Max-Age says and whatever the client does with it.
//
// # Keys
//
// Keys are 256-bit secrets from configuration (ParseKeys reads hex or
// base64). One is the sealing key; the others only open. A key is rotated in
// two steps (see Key) so that no node meets a cookie it cannot open during a
// rolling deploy. A cookie opened with an open-only key is resealed with the
// sealing key on its next commit or touch, and Load makes the Manager touch
// at once (see Store.Load), so even a read-only request reseals it. A cookie
// sealed with a key no longer in the ring opens as "no session".
//
// # What a client-side session cannot do
//
// A client holds a copy of its session, and a server cannot take a copy
// back. Three consequences; this store's conformance run names each case
// it cannot meet (storetest.Instead) and checks what it does in its place:
//
//   - Update is atomic within one request only. Two requests updating the
//     same session concurrently each start from the cookie they were sent,
//     and the client keeps whichever response arrives last: one change is
//     lost. The same holds for two concurrent commits of different keys.
//   - Renew seals the session again (new nonce, same data), but the old
//     cookie still opens, to the session as it was then, until its
//     deadlines. What renewal is for still holds: a fixation attacker's
//     planted cookie never gains the privileges of the renewed session,
//     because those privileges live in the new value only. What does not
//     hold is that the old value is dead.
//   - Destroy (Delete) tells the client to drop its cookie, but a copy
//     taken earlier (a stolen cookie) still opens until its deadlines.
//     Likewise any older copy of a session can be replayed: do not count
//     on a value in a client-side session being used once (a one-time
//     code, a balance).
//
// Config.Generations and Config.RevokeSessions give back what server state
// can: with Generations, Manager.RevokeAll ("log out everywhere") bumps the
// principal's generation and every older session of that principal opens
// as "no session" (one small read per request with a principal); with
// RevokeSessions too, Delete and Renew revoke the exact cookie they end (one
// more read per request, and one counter kept per ended session). Rails,
// Django, iron-session and cookie-session revoke nothing on logout; OWASP
// ASVS 5 (V7.4.1) asks for it.
//
// # Compression
//
// Sessions of Config.CompressMin bytes (512) or more are compressed with S2
// when that makes them smaller; Zstd compresses better but slower. The
// decompressed size is capped. Compressing data an attacker chooses beside
// a secret leaks the secret through the cookie's length (the CRIME and
// BREACH attacks): see Config.Compression.
//
// # Expiry
//
// The server keeps nothing of a client-side session, so nothing of it
// expires on the server: a session past its deadline is refused when its
// cookie comes back. The store cannot tell a Manager's Observer of an
// expiry and does not implement sessionkit.ExpiryNotifier.
package cookiestore
