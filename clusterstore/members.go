package clusterstore

import "github.com/sessionkit/sessionkit/clusterstore/gossip"

// Member is a node as the gossip shows it (see package gossip).
type Member = gossip.Member

// Timing tunes failure detection (see package gossip).
type Timing = gossip.Timing

// LocalTiming is gossip.LocalTiming, Config.Timing's default.
var LocalTiming = gossip.LocalTiming
