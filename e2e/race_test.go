//go:build race

package e2e

// raceEnabled: this test process runs under the race detector. The
// openfront binary the tests start is built with -race either way.
const raceEnabled = true
