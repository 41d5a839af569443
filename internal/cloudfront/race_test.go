//go:build race

package cloudfront

// raceEnabled: the race detector's instrumentation allocates on its own,
// so allocation counts are not asserted under it.
const raceEnabled = true
