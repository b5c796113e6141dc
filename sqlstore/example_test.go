package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/sqlstore"
)

// Sessions in one SQLite file, which every process of the application on
// this machine may open at the same time.
func ExampleOpenSQLite() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "sessions.db"), sqlstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	now := time.Now()
	tok, _ := store.Create(ctx, sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour), Principal: "alice"},
		Values: map[string][]byte{"theme": []byte("dark")},
	})
	// A commit changes only the keys of its delta.
	store.Commit(ctx, tok, sessionkit.Delta{Set: map[string][]byte{"lang": []byte("fr")}, IdleDeadline: now.Add(time.Hour)})
	rec, found, _ := store.Load(ctx, tok)
	fmt.Println(found, string(rec.Values["theme"]), string(rec.Values["lang"]))

	infos, _ := store.Sessions(ctx, "alice")
	fmt.Println(len(infos), "session of alice")
	// Output:
	// true dark fr
	// 1 session of alice
}

// A Manager whose sessions live in PostgreSQL, shared by every node.
func ExampleOpenPostgres() {
	store, err := sqlstore.OpenPostgres(context.Background(), os.Getenv("DATABASE_URL"), sqlstore.Config{})
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
