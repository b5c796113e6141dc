// Package redact hides the secrets that a connection string carries, for
// error messages and log lines. It is the one place of that rule: the
// stores and the command both call it.
package redact

import (
	"regexp"
	"strings"
)

// Hidden replaces every secret URL removes.
const Hidden = "xxxxx"

// secretParam matches a password given as a query parameter
// (?password=..., &sslpassword=...) or as a keyword of a PostgreSQL
// keyword/value string (password=... or password='...').
var secretParam = regexp.MustCompile(`(?i)((?:^|[?&\s;])(?:ssl)?pass(?:word)?\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s;#]*)`)

// URL returns u with its secrets hidden: the user information of a URL
// (scheme://user:password@host: everything between "://" and the last
// "@", so that a password holding "@", "/", "?" or "#" is hidden whole;
// an "@" in a query hides more than it must, never less), and any
// password given as a parameter. A string without secrets comes back
// unchanged, so callers may compare the two to learn whether u holds one.
func URL(u string) string {
	if scheme := strings.Index(u, "://"); scheme >= 0 {
		rest := u[scheme+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			u = u[:scheme+3] + Hidden + rest[at:]
		}
	}
	return secretParam.ReplaceAllString(u, "${1}"+Hidden)
}
