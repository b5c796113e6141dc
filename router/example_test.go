package router_test

import (
	"log"
	"net"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit/router"
)

// ExampleServer serves a Router with its fast path; what the fast path
// does not take, the http.Server serves, with the same timeouts.
func ExampleServer() {
	rt, err := router.New(router.Config{}, []router.Member{
		{Name: "n1", URL: "http://127.0.0.1:8081"},
		{Name: "n2", URL: "http://127.0.0.1:8082"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &router.Server{Router: rt, HTTP: &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}}
	go srv.Serve(ln)
	defer srv.Close() // or Shutdown(ctx), which drains requests in flight
}
