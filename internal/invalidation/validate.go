package invalidation

import "strings"

// Limits are the per-distribution quotas CloudFront enforces.
type Limits struct {
	// MaxBatchPaths is the most paths one batch may hold (BatchTooLarge above).
	MaxBatchPaths int
	// MaxInProgressFilePaths is the most non-wildcard paths of InProgress
	// invalidations a distribution may have.
	MaxInProgressFilePaths int
	// MaxInProgressWildcardPaths is the most wildcard paths of InProgress
	// invalidations a distribution may have.
	MaxInProgressWildcardPaths int
	// MaxPathLength is the longest path accepted, in bytes.
	MaxPathLength int
}

// DefaultLimits are the real service's defaults.
var DefaultLimits = Limits{
	MaxBatchPaths:              3000,
	MaxInProgressFilePaths:     3000,
	MaxInProgressWildcardPaths: 15,
	MaxPathLength:              4000,
}

// Validate checks b against the rules CloudFront applies to a batch on its
// own, before looking at other invalidations.
func (l Limits) Validate(b Batch) error {
	if b.CallerReference == "" {
		return newError(CodeInvalidArgument, "The parameter CallerReference is required and must not be empty.")
	}
	if len(b.Paths) == 0 {
		return newError(CodeInvalidArgument, "Your request must contain at least one invalidation path.")
	}
	if len(b.Paths) > l.MaxBatchPaths {
		return newError(CodeBatchTooLarge, "Your request contains %d invalidation paths; the maximum in one batch is %d.", len(b.Paths), l.MaxBatchPaths)
	}
	for _, p := range b.Paths {
		if !l.validPath(p) {
			return newError(CodeInvalidArgument, msgInvalidPaths)
		}
	}
	return nil
}

// validPath applies the documented path rules: a leading '/', at most
// MaxPathLength bytes, '*' only as the last character, and no control
// characters (they cannot name an object in a URL).
func (l Limits) validPath(p string) bool {
	if !strings.HasPrefix(p, "/") || len(p) > l.MaxPathLength {
		return false
	}
	if i := strings.IndexByte(p, '*'); i >= 0 && i != len(p)-1 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// Admit decides whether a batch adding add may start while inProgress is
// already running on the distribution.
func (l Limits) Admit(inProgress, add Usage) error {
	if add.FilePaths > 0 && inProgress.FilePaths+add.FilePaths > l.MaxInProgressFilePaths {
		return newError(CodeTooManyInvalidationsInProgress, msgTooManyPaths)
	}
	if add.WildcardPaths > 0 && inProgress.WildcardPaths+add.WildcardPaths > l.MaxInProgressWildcardPaths {
		return newError(CodeTooManyInvalidationsInProgress, msgTooManyWildcards)
	}
	return nil
}
