package clusterstore

import "github.com/sessionkit/sessionkit/clusterstore/gossip"

// Member is a node as the gossip shows it (see package gossip).
type Member = gossip.Member

// Timing tunes failure detection (see package gossip).
type Timing = gossip.Timing

// The timing profiles of package gossip: LocalTiming (Config.Timing's
// default) for one machine, LANTiming for one network, WANTiming across
// regions.
var (
	LocalTiming = gossip.LocalTiming
	LANTiming   = gossip.LANTiming
	WANTiming   = gossip.WANTiming
)

// Profile returns the timing profile of that name: local, lan or wan.
func Profile(name string) (Timing, error) { return gossip.Profile(name) }
