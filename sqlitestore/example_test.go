package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// Sessions in one SQLite file, which every process of the application on
// this machine may open at the same time.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "sessions.db"))
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
	store.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: "lang", Value: []byte("fr")}}, IdleDeadline: now.Add(time.Hour)})
	rec, found, _ := store.Load(ctx, tok)
	fmt.Println(found, string(rec.Values["theme"]), string(rec.Values["lang"]))

	infos, _ := store.Sessions(ctx, "alice")
	fmt.Println(len(infos), "session of alice")
	// Output:
	// true dark fr
	// 1 session of alice
}
