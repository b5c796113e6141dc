package redisstore_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
)

// A Manager whose sessions live in Redis, so that every node of the
// application serves every session. The same code runs against Sentinel
// (redis://sentinel1:26379?master_set=mymaster&addr=sentinel2:26379) or a
// Cluster (redis://node1:6379?addr=node2:6379&addr=node3:6379).
func ExampleNew() {
	store, err := redisstore.New(context.Background(), redisstore.Config{
		URL:       "redis://127.0.0.1:6379/0",
		NearCache: &redisstore.NearCache{TTL: time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	m, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/cart/add", func(w http.ResponseWriter, r *http.Request) {
		// Update is an atomic read-modify-write at Redis: concurrent
		// requests never lose each other's items.
		err := sessionkit.FromContext(r.Context()).Update("cart", func(old any, ok bool) (any, error) {
			items, _ := old.([]string)
			return append(items, r.FormValue("item")), nil
		})
		if err != nil {
			http.Error(w, err.Error(), sessionkit.ErrorStatus(err))
		}
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}

// Open is the short form for a URL, as the sessionkit command uses it.
func ExampleOpen() {
	store, err := redisstore.Open(context.Background(), "redis://127.0.0.1:6379")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
}
