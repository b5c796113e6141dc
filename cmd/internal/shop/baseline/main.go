// Command baseline serves the shop's JSON API without sessions
// (shop.Baseline), the no-session yardstick of bench/saturation.sh:
//
//	baseline NAME ADDRESS
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/sessionkit/sessionkit/cmd/internal/shop"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: baseline NAME ADDRESS")
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "baseline %s listening on %s\n", os.Args[1], os.Args[2])
	if err := http.ListenAndServe(os.Args[2], shop.Baseline(os.Args[1])); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
