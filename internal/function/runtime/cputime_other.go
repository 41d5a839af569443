//go:build !linux

package runtime

import "time"

// cpuClock is unavailable here: runs are timed by the wall clock.
type cpuClock struct{}

func startCPUClock() cpuClock               { return cpuClock{} }
func (cpuClock) now() (time.Duration, bool) { return 0, false }
func (cpuClock) stop()                      {}
