package redisstore

import (
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit"
)

// The record layout. A session is one hash. A user key k is a field named
// k, or "#"+k when k itself starts with '#'; metadata fields are '#'
// followed by one lower-case letter, a name no escaped user key can take.
// Times are Unix milliseconds. The idle deadline is the key's expiry
// (PEXPIREAT), never a field, so that Touch is a single PEXPIREAT.
const (
	layoutVersion = "1"

	metaMark       = '#'
	fieldVersion   = "#v" // layout version, "1"
	fieldPrincipal = "#p" // principal, "" when anonymous
	fieldCreated   = "#c" // creation time
	fieldDeadline  = "#d" // absolute deadline
	fieldIdle      = "#i" // idle timeout in milliseconds
	fieldRemember  = "#r" // "1" for a persistent session
	fieldGen       = "#g" // the principal's generation at login
	fieldVersionN  = "#n" // the session's version: 1 at creation, +1 at every write of a value or of metadata
)

// field returns the hash field holding user key k.
func field(k string) string {
	if len(k) > 0 && k[0] == metaMark {
		return string(metaMark) + k
	}
	return k
}

// userKey returns the user key stored in field f, and false for a
// metadata field.
func userKey(f string) (string, bool) {
	if len(f) > 0 && f[0] == metaMark {
		if len(f) > 1 && f[1] == metaMark {
			return f[1:], true
		}
		return "", false
	}
	return f, true
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func fromMS(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}

// metaArgs appends the metadata fields of m, as field-value pairs.
func metaArgs(args []string, m *sessionkit.Meta) []string {
	remember := "0"
	if m.Persistent {
		remember = "1"
	}
	return append(args,
		fieldVersion, layoutVersion,
		fieldPrincipal, m.Principal,
		fieldCreated, ms(m.Created),
		fieldDeadline, ms(m.Deadline),
		fieldIdle, strconv.FormatInt(m.IdleTimeout.Milliseconds(), 10),
		fieldRemember, remember,
		fieldGen, strconv.FormatUint(m.Generation, 10),
	)
}

// metaPairs is the number of field-value pairs metaArgs appends.
const metaPairs = 7

// decode builds a record from a hash's fields and the key's expiry (Unix
// milliseconds). It reports false for a record that is not a session of
// this layout.
func decode(fields map[string]string, expiry int64) (sessionkit.Record, bool) {
	if fields[fieldVersion] != layoutVersion || expiry <= 0 {
		return sessionkit.Record{}, false
	}
	var rec sessionkit.Record
	var ok1, ok2 bool
	rec.Principal = fields[fieldPrincipal]
	rec.Created, ok1 = fromMS(fields[fieldCreated])
	rec.Deadline, ok2 = fromMS(fields[fieldDeadline])
	idle, err := strconv.ParseInt(fields[fieldIdle], 10, 64)
	gen, err2 := strconv.ParseUint(fields[fieldGen], 10, 64)
	if !ok1 || !ok2 || err != nil || err2 != nil {
		return sessionkit.Record{}, false
	}
	rec.IdleTimeout = time.Duration(idle) * time.Millisecond
	rec.Persistent = fields[fieldRemember] == "1"
	rec.Generation = gen
	rec.IdleDeadline = time.UnixMilli(expiry)
	rec.Values = make(map[string][]byte, len(fields)-metaPairs)
	for f, v := range fields {
		if k, ok := userKey(f); ok {
			rec.Values[k] = []byte(v)
		}
	}
	return rec, true
}

// principalOf returns the principal in a flat field-value list.
func principalOf(flat []string) string {
	for i := 0; i+1 < len(flat); i += 2 {
		if flat[i] == fieldPrincipal {
			return flat[i+1]
		}
	}
	return ""
}
