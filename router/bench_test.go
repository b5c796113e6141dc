package router_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit/router"
)

// benchmarkPath sends GETs with a session cookie through the router over
// loopback, one at a time, to a backend like bench/cmd/backend.
func benchmarkPath(b *testing.B, fast bool) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "served by n1\n")
	}))
	defer backend.Close()
	rt, err := router.New(router.Config{Logger: quiet}, []router.Member{{Name: "n1", URL: backend.URL}})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	url := ""
	if fast {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &router.Server{Router: rt, HTTP: &http.Server{}}
		done := make(chan struct{})
		go func() { s.Serve(ln); close(done) }()
		defer func() { s.Close(); <-done }()
		url = "http://" + ln.Addr().String() + "/"
	} else {
		s := httptest.NewServer(rt)
		defer s.Close()
		url = s.URL + "/"
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Cookie", "session=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// The allocations these report are the client's and the backend's too;
// compare the two, or one before and after a change.
func BenchmarkNetHTTPPath(b *testing.B) { benchmarkPath(b, false) }
func BenchmarkFastPath(b *testing.B)    { benchmarkPath(b, true) }
