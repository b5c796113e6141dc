// Command backend is the smallest HTTP backend: it answers every request
// with its name, for measuring proxies in front of it.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	name := flag.String("name", "b1", "name to answer with")
	listen := flag.String("listen", "127.0.0.1:9001", "address")
	flag.Parse()
	body := []byte("served by " + *name + "\n")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", *name)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
