package runtime

import (
	goruntime "runtime"
	"time"

	"golang.org/x/sys/unix"
)

// A run's budget is CPU time, not wall time, so that waiting for a core
// on a busy machine does not count against a function. The goroutine is
// locked to its thread for the run and the watchdog reads that thread's
// CPU clock: while the run is descheduled its thread sleeps, so the clock
// counts the run alone. (Unlocked, the thread ran other goroutines while
// the run waited, and ordinary runs were charged for them.)

// cpuClock is the CPU-time clock of the thread a run is locked to.
type cpuClock struct {
	id int32 // the clock id
}

// startCPUClock locks the calling goroutine to its thread and returns the
// thread's clock; stop unlocks it.
func startCPUClock() cpuClock {
	goruntime.LockOSThread()
	// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) from the kernel's
	// posix-timers.h: the thread's scheduler CPU time.
	return cpuClock{id: int32(^uint32(unix.Gettid())<<3 | 6)}
}

// now returns the thread's CPU time so far; ok is false when it cannot be
// read.
func (c cpuClock) now() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(c.id, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

func (cpuClock) stop() { goruntime.UnlockOSThread() }
