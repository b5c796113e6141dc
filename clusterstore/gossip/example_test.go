package gossip_test

import (
	"context"
	"encoding/hex"
	"log"
	"os"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/clusterstore/gossip"
)

// A router of one's own joins the cluster's gossip as a router and routes
// on the routable members: the same members, so the same ring, as the
// cluster store's nodes. With the router package, SetMembers takes them.
func Example_router() {
	key, err := hex.DecodeString(os.Getenv("SESSIONKIT_CLUSTER_KEY")) // the nodes' cluster key
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	members, err := gossip.Join(ctx, gossip.Config{
		Self: gossip.Member{Name: "router-1", Role: gossip.RoleRouter},
		Bind: "10.0.0.5:7946",
		Join: strings.Split("10.0.0.1:7946,10.0.0.2:7946", ","), // any of the nodes' gossip addresses
		Key:  key,
	}, func(live []gossip.Member) {
		// Called after every change; it must not block.
		for _, m := range live {
			if m.Routable() {
				log.Printf("route to %s at %s, weight %g", m.Name, m.HTTP, m.Weight)
				// e.g. append router.Member{Name: m.Name, URL: m.HTTP, Weight: m.Weight}
				// and call (*router.Router).SetMembers with the list.
			}
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	defer members.Leave(time.Second) // tell the others before stopping
}
