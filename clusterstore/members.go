package clusterstore

import (
	"context"

	"github.com/sessionkit/sessionkit/clusterstore/gossip"
)

// Member is a node as the gossip shows it (see package gossip).
type Member = gossip.Member

// Timing tunes failure detection (see package gossip).
type Timing = gossip.Timing

// LocalTiming is gossip.LocalTiming, Config.Timing's default.
var LocalTiming = gossip.LocalTiming

// Membership is a gossip member.
//
// Deprecated: use gossip.Membership.
type Membership = gossip.Membership

// MembershipConfig configures a gossip member.
//
// Deprecated: use gossip.Config.
type MembershipConfig = gossip.Config

// Join joins the cluster's gossip.
//
// Deprecated: use gossip.Join.
func Join(ctx context.Context, cfg MembershipConfig, onChange func([]Member)) (*Membership, error) {
	return gossip.Join(ctx, cfg, onChange)
}
