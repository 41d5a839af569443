// Package invalidation holds CloudFront's rules for invalidation batches:
// what a valid batch is, when a replay returns the original, how many paths
// may be in progress, and how an invalidation moves from InProgress to
// Completed. It knows nothing of HTTP or of how records are stored.
package invalidation

import (
	"crypto/rand"
	"slices"
	"strings"
	"time"
)

// Status is the state of an invalidation as CloudFront spells it.
type Status string

// The two statuses CloudFront reports.
const (
	InProgress Status = "InProgress"
	Completed  Status = "Completed"
)

// Batch is what a client asks to invalidate.
type Batch struct {
	CallerReference string   `json:"ref"`
	Paths           []string `json:"paths"`
}

// Invalidation is one accepted batch on one distribution.
type Invalidation struct {
	DistributionID string    `json:"dist"`
	ID             string    `json:"id"`
	Status         Status    `json:"status"`
	CreateTime     time.Time `json:"created"`
	Batch          Batch     `json:"batch"`
	// CompleteTime is when the invalidation turned Completed; zero before.
	CompleteTime time.Time `json:"completed,omitzero"`
}

// Usage counts paths of in-progress invalidations, as CloudFront's limits do:
// wildcard paths (containing '*') and file paths separately.
type Usage struct {
	FilePaths     int
	WildcardPaths int
}

// Add returns the sum of u and o.
func (u Usage) Add(o Usage) Usage {
	return Usage{u.FilePaths + o.FilePaths, u.WildcardPaths + o.WildcardPaths}
}

// Sub returns u minus o.
func (u Usage) Sub(o Usage) Usage {
	return Usage{u.FilePaths - o.FilePaths, u.WildcardPaths - o.WildcardPaths}
}

// Usage reports how much of the in-progress limits b takes.
func (b Batch) Usage() Usage {
	var u Usage
	for _, p := range b.Paths {
		if strings.HasSuffix(p, "*") {
			u.WildcardPaths++
		} else {
			u.FilePaths++
		}
	}
	return u
}

// SamePaths reports whether b and o name the same paths. Order does not
// matter, duplicates do: AWS compares "the content of any Path", and a retry
// from any SDK sends the same list anyway.
func (b Batch) SamePaths(o Batch) bool {
	if len(b.Paths) != len(o.Paths) {
		return false
	}
	x, y := slices.Clone(b.Paths), slices.Clone(o.Paths)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// idAlphabet is the alphabet of CloudFront's invalidation Ids.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// NewID returns a fresh invalidation Id shaped like CloudFront's:
// "I" followed by 13 upper-case letters and digits.
func NewID() string {
	return "I" + randomString(13)
}

func randomString(n int) string {
	var buf [32]byte
	b := buf[:n]
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}
