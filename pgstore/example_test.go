package pgstore_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore"
)

// A Manager whose sessions live in PostgreSQL, shared by every node.
func ExampleOpen() {
	store, err := pgstore.Open(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	m, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		log.Fatal(err)
	}
	http.ListenAndServe(":8080", m.Handler(http.NotFoundHandler()))
}

// A store that also keeps sessions in the process: a request whose
// session is cached loads it without a round trip, and other nodes'
// writes reach the cache through LISTEN/NOTIFY. The URL must reach the
// server itself or a session-mode pool, for LISTEN.
func ExampleNew_nearCache() {
	store, err := pgstore.New(context.Background(), pgstore.Config{
		URL:       os.Getenv("DATABASE_URL"),
		NearCache: &pgstore.NearCache{MaxLag: 200 * time.Millisecond}, // reads reflect commits older than 200 ms
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	m, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		log.Fatal(err)
	}
	http.ListenAndServe(":8080", m.Handler(http.NotFoundHandler()))
}
