package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redistest"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/storetest"
)

// A store on the application's own client passes the conformance suite,
// and its Close leaves the client to the application. The client selects
// database 3, which Config.URL names for the expiry notifications.
func TestNewFromClient(t *testing.T) {
	srv := redistest.Start(t, "--notify-keyspace-events", "Ex")
	url := srv.URL() + "/3"
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cases := 0
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		cases++ // each case its own keys: they share one server
		s := redisstore.NewFromClient(client, redisstore.Config{URL: url, Prefix: fmt.Sprintf("case%d:", cases)})
		t.Cleanup(func() { s.Close() })
		return s
	}, storetest.AtRest(dump(client)), storetest.ExpiryWithoutPrincipal("a keyspace notification names only the key"))
	s := redisstore.NewFromClient(client, redisstore.Config{})
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Do(ctx, client.B().Ping().Build()).Error(); err != nil {
		t.Fatalf("the application's client after the store's Close: %v", err)
	}
}
