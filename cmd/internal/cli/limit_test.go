package cli

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseCreateLimit(t *testing.T) {
	for in, want := range map[string][2]float64{"1": {1, 0}, "0.5,3": {0.5, 3}, " 2 , 4 ": {2, 4}} {
		l, err := parseCreateLimit(in)
		if err != nil || l.Rate != want[0] || float64(l.Burst) != want[1] {
			t.Errorf("%q: %+v, %v; want %v", in, l, err, want)
		}
	}
	if l, err := parseCreateLimit(""); l != nil || err != nil {
		t.Errorf(`"": %+v, %v; want no limit`, l, err)
	}
	for _, bad := range []string{"0", "-1", "x", "NaN", "Inf", "1,", "1,0", "1,-2", "1,2.5", "1e7", ",3"} {
		if _, err := parseCreateLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseCreateLimit: any input is a limit with a positive finite rate
// and a burst that is positive or left to the Manager's default (0), or a
// clear error; never a panic.
func FuzzParseCreateLimit(f *testing.F) {
	for _, s := range []string{"1", "0.5,3", "", "1,", "x,y", "1e6,1000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseCreateLimit(s)
		if err != nil {
			if !strings.Contains(err.Error(), "-create-limit") {
				t.Fatalf("%q: error without the flag's name: %v", s, err)
			}
			return
		}
		if s == "" {
			return
		}
		if l == nil || !(l.Rate > 0) || math.IsInf(l.Rate, 0) || l.Burst < 0 {
			t.Fatalf("%q: %+v", s, l)
		}
	})
}

// TestNodeCreateLimit: with -create-limit, a client that creates sessions
// faster than the limit gets 429; another client does not.
func TestNodeCreateLimit(t *testing.T) {
	url, _ := startCommand(t, "node", "--listen", "127.0.0.1:0", "--dev", "--create-limit", "0.001,2",
		"--trusted-proxies", "127.0.0.0/8")
	login := func(client string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/api/login", strings.NewReader(`{"user":"ada"}`))
		req.Header.Set("X-Forwarded-For", client)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req) // no cookie jar: a new session each time
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, want := range []int{200, 200, 429, 429} {
		if got := login("2001:db8:1:2::" + string(rune('a'+i))); got != want {
			t.Fatalf("login %d from one /64: %d, want %d", i+1, got, want)
		}
	}
	if got := login("2001:db8:1:3::1"); got != 200 {
		t.Fatalf("login from another /64: %d, want 200", got)
	}
	if code, _ := runMain(t, "node", "--listen", "127.0.0.1:0", "--create-limit", "fast"); code == 0 {
		t.Fatal("-create-limit fast accepted")
	}
}
