package runtime

import (
	"time"

	"golang.org/x/sys/unix"
)

// A run's budget is CPU time, not wall time, so that waiting for a core
// on a busy machine does not count against a function: the watchdog reads
// the CPU clock of the thread the run started on. The goroutine is not
// locked to that thread (locking made every run pay for thread hand-offs
// under load), so a run the scheduler moves to another thread is timed by
// the wall clock from then on, and MaxWallFactor bounds it in any case.

// cpuClock is the CPU-time clock of the thread a run started on.
type cpuClock struct {
	tid int
	id  int32 // the clock id; 0: none
}

// startCPUClock returns the calling thread's clock.
func startCPUClock() cpuClock {
	tid := unix.Gettid()
	// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) from the kernel's
	// posix-timers.h: the thread's scheduler CPU time.
	return cpuClock{tid: tid, id: int32(^uint32(tid)<<3 | 6)}
}

// now returns the thread's CPU time so far; ok is false when it cannot be
// read.
func (c cpuClock) now() (time.Duration, bool) {
	if c.id == 0 {
		return 0, false
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(c.id, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// same reports whether the caller still runs on the clock's thread.
func (c cpuClock) same() bool { return unix.Gettid() == c.tid }
