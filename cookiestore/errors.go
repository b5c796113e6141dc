package cookiestore

import "errors"

// Errors of the cookie store. Compare them with errors.Is.
var (
	// ErrNoKey is returned by New when Config.Keys holds no sealing key,
	// or more than one.
	ErrNoKey = errors.New("cookiestore: exactly one sealing key is needed")

	// ErrBadKey is returned by ParseKeys and New for a key that is not 32
	// bytes (64 hex digits or 43 base64 characters), or a key listed twice.
	ErrBadKey = errors.New("cookiestore: bad key")

	// ErrConfig is returned by New for an invalid configuration, such as
	// RevokeSessions without Generations.
	ErrConfig = errors.New("cookiestore: invalid configuration")
)
