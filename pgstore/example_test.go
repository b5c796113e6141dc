package pgstore_test

import (
	"context"
	"log"
	"net/http"
	"os"

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
