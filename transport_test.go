package sessionkit_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/webtest"
)

func TestCookieChunks(t *testing.T) {
	ct := &sessionkit.CookieTransport{}
	long := strings.Repeat("abcdefghij", 700) // 7000 bytes: two chunks
	w := httptest.NewRecorder()
	ct.SetToken(w, httptest.NewRequest("GET", "/", nil), long, time.Time{})
	cookies := w.Result().Cookies()
	if len(cookies) != 2 {
		t.Fatalf("%d cookies, want 2", len(cookies))
	}
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range w.Header()["Set-Cookie"] {
		if len(c) > 4096 {
			t.Fatalf("a cookie of %d bytes", len(c))
		}
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	if got := ct.Token(r); got != long {
		t.Fatalf("joined token of %d bytes, want %d", len(got), len(long))
	}
	// A shorter token expires the chunk it no longer needs.
	w = httptest.NewRecorder()
	ct.SetToken(w, r, "short", time.Time{})
	var expired []string
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			expired = append(expired, c.Name)
		}
	}
	if len(expired) != 1 || expired[0] != "__Host-session.1" {
		t.Fatalf("expired %v, want the second chunk", expired)
	}
	if n := ct.MaxTokenLen(); n < 7000 || n > 8192 {
		t.Fatalf("MaxTokenLen = %d", n)
	}
}

func FuzzCookieToken(f *testing.F) {
	f.Add("__Host-session=abc; __Host-session.1=def")
	f.Add(`a=b; __Host-session="quoted"`)
	f.Add(";;;=;")
	ct := &sessionkit.CookieTransport{}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		tok := ct.Token(r)
		if len(tok) > len(header) {
			t.Fatalf("token of %d bytes from a header of %d", len(tok), len(header))
		}
		// What SetToken writes, Token reads back.
		if tok != "" && !strings.ContainsAny(tok, "\" ;,\\\x7f") && isPrintable(tok) {
			w := httptest.NewRecorder()
			ct.SetToken(w, r, tok, time.Time{})
			r2 := &http.Request{Header: http.Header{}}
			for _, c := range w.Result().Cookies() {
				if c.MaxAge >= 0 {
					r2.AddCookie(c)
				}
			}
			if got := ct.Token(r2); len(tok) <= ct.MaxTokenLen() && got != tok {
				t.Fatalf("round trip: %q -> %q", tok, got)
			}
		}
	})
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// FuzzRequest sends any Cookie header through the Manager: never a panic,
// never a 5xx.
func FuzzRequest(f *testing.F) {
	f.Add("__Host-session=" + strings.Repeat("A", 43))
	f.Add("__Host-session=" + strings.Repeat("%", 10000))
	f.Add("__Host-session=x; __Host-session.1=y")
	store := memstoreForFuzz(f)
	m, err := sessionkit.New(store, sessionkit.Config{Logger: discard})
	if err != nil {
		f.Fatal(err)
	}
	h := m.Handler(webtest.Mux())
	f.Fuzz(func(t *testing.T, cookie string) {
		for _, path := range []string{"/get?k=a", "/set?k=a&v=b"} {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("Cookie", cookie)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("%s with cookie %q: status %d", path, cookie, w.Code)
			}
		}
	})
}
