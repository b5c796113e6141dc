package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:S3cret@127.0.0.1:1/0", "redis://xxxxx@127.0.0.1:1/0"},
		{"redis://user:p@ss/w0rd@host:1", "redis://xxxxx@host:1"},
		{"rediss://u:pw@h:1?addr=h2:2&addr=h3:3", "rediss://xxxxx@h:1?addr=h2:2&addr=h3:3"},
		{"postgres://app:S3cret@db:5432/app?sslmode=disable", "postgres://xxxxx@db:5432/app?sslmode=disable"},
		{"postgres://db/app?user=app&password=S3cret&sslmode=require", "postgres://db/app?user=app&password=xxxxx&sslmode=require"},
		{"host=db user=app password=S3cret dbname=app", "host=db user=app password=xxxxx dbname=app"},
		{"host=db password='S3 cret' dbname=app", "host=db password=xxxxx dbname=app"},
		{"redis://:pa#ss@127.0.0.1:1/0", "redis://xxxxx@127.0.0.1:1/0"},
		{"redis://:pa?ss@127.0.0.1:1/0", "redis://xxxxx@127.0.0.1:1/0"},
		{"redis://h:1?x=1#frag", "redis://h:1?x=1#frag"},
		{"redis://h:1?x=1#frag@x", "redis://xxxxx@x"}, // more hidden than needed, never less
		{"", ""},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzURL checks that a password placed in any URL's userinfo never
// survives redaction.
func FuzzURL(f *testing.F) {
	f.Add("redis", "user", "", "host:1/0?x=y")
	f.Add("postgres", "", "#?/@", "db/app")
	f.Fuzz(func(t *testing.T, scheme, user, more, rest string) {
		const pw = "Zq9S3cretPw"
		if strings.Contains(scheme+user+more+rest, pw) || strings.ContainsAny(scheme+user, "/?#@") {
			return
		}
		// The password may hold any byte a careless user puts in it.
		u := scheme + "://" + user + ":" + pw + more + "@" + rest
		if strings.Contains(URL(u), pw) {
			t.Fatalf("URL(%q) = %q shows the password", u, URL(u))
		}
	})
}
