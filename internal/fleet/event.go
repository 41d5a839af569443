package fleet

import (
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/resource"
)

// Kinds of events.
const (
	KindInvalidation = "invalidation" // apply Invalidation
	KindDistribution = "distribution" // run Distribution's configuration
	KindDelete       = "delete"       // forget DistributionID
	// KindConfigFile replaces the distributions of the control plane's
	// configuration file with Distributions: those no longer in the file
	// are forgotten. Logged when the control plane starts with a file
	// that differs from the last one logged.
	KindConfigFile = "config-file"
	// KindResource makes Resource (a new resource or a new version of
	// one: a policy, an origin access control...) known to edges;
	// KindResourceRemove makes them forget ResourceKind ResourceID.
	KindResource       = "resource"
	KindResourceRemove = "resource-remove"
	KindSnapshot       = "snapshot" // replace everything (sent on connect, never logged)
)

// Event is one change every edge applies, in log order. Kind must stay
// the first field: the hub reads it from the encoded event's prefix.
type Event struct {
	Kind           string                     `json:"kind"`
	Invalidation   *invalidation.Invalidation `json:"inv,omitempty"`
	Distribution   *distribution.Distribution `json:"dist,omitempty"`
	DistributionID string                     `json:"id,omitempty"`
	// Distributions and Hash are those of a KindConfigFile event: the
	// file's distributions, and a digest of them that tells whether the
	// file changed since it was last logged.
	Distributions []distribution.Distribution `json:"dists,omitempty"`
	Hash          string                      `json:"hash,omitempty"`
	// Resource is a KindResource event's resource (without Raw: edges act
	// on Config); ResourceKind and ResourceID name a KindResourceRemove's.
	Resource     *resource.Resource `json:"res,omitempty"`
	ResourceKind resource.Kind      `json:"res_kind,omitempty"`
	ResourceID   string             `json:"res_id,omitempty"`
}

// Snapshot is the state an edge starts from when it cannot resume: every
// distribution and every resource as of position Head. With Purge, the
// edge must also drop everything it cached, because it missed events that
// were trimmed.
type Snapshot struct {
	Head          uint64                      `json:"head"`
	Purge         bool                        `json:"purge,omitempty"`
	Distributions []distribution.Distribution `json:"distributions"`
	Resources     []resource.Resource         `json:"resources,omitempty"`
}

// hello opens every stream: the log position the edge must reach to be
// caught up.
type hello struct {
	Head uint64 `json:"head"`
	// Snapshot says a snapshot follows: the edge is caught up only after it.
	Snapshot bool `json:"snapshot,omitempty"`
	// EdgeTimeoutMS is the hub's edge timeout in milliseconds: an edge
	// silent that long leaves the registry, so the edge keeps its max
	// staleness at half of it at most.
	EdgeTimeoutMS int64 `json:"edge_timeout_ms,omitempty"`
}
