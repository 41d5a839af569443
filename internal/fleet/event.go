package fleet

import (
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

// Kinds of events.
const (
	KindInvalidation = "invalidation" // apply Invalidation
	KindDistribution = "distribution" // run Distribution's configuration
	KindDelete       = "delete"       // forget DistributionID
	KindSnapshot     = "snapshot"     // replace everything (sent on connect, never logged)
)

// Event is one change every edge applies, in log order.
type Event struct {
	Kind           string                     `json:"kind"`
	Invalidation   *invalidation.Invalidation `json:"inv,omitempty"`
	Distribution   *distribution.Distribution `json:"dist,omitempty"`
	DistributionID string                     `json:"id,omitempty"`
}

// Snapshot is the state an edge starts from when it cannot resume: every
// distribution as of position Head. With Purge, the edge must also drop
// everything it cached, because it missed events that were trimmed.
type Snapshot struct {
	Head          uint64                      `json:"head"`
	Purge         bool                        `json:"purge,omitempty"`
	Distributions []distribution.Distribution `json:"distributions"`
}

// hello opens every stream: the log position the edge must reach to be
// caught up.
type hello struct {
	Head uint64 `json:"head"`
	// Snapshot says a snapshot follows: the edge is caught up only after it.
	Snapshot bool `json:"snapshot,omitempty"`
}
