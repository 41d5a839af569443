package runtime

import (
	"fmt"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// MaxWallFactor bounds a run's wall-clock time to this many budgets, and
// at least MinMaxWall, whatever CPU time it used: a run blocked outside
// JavaScript (a key value lookup) still ends. Generous, because a run
// waiting for a core on a loaded machine is not at fault.
const (
	MaxWallFactor = 50
	MinMaxWall    = time.Second
)

// watchdog interrupts a runtime once the run has used its budget of CPU
// time (cputime_linux.go; wall time where that clock cannot be read), or
// MaxWallFactor budgets of wall time.
type watchdog struct {
	rt     *goja.Runtime
	clock  cpuClock
	cpu0   time.Duration
	hasCPU bool
	start  time.Time
	budget time.Duration

	mu    sync.Mutex
	timer *time.Timer // guarded by mu
	done  bool        // guarded by mu: the run is over, interrupt no more
	fired bool        // guarded by mu: rt was interrupted
}

func watch(rt *goja.Runtime, budget time.Duration) *watchdog {
	w := &watchdog{rt: rt, budget: budget, clock: startCPUClock(), start: time.Now()}
	w.cpu0, w.hasCPU = w.clock.now()
	// Under mu: the timer may fire before AfterFunc returns, and check
	// needs w.timer.
	w.mu.Lock()
	w.timer = time.AfterFunc(budget, w.check)
	w.mu.Unlock()
	return w
}

// used is the run's time so far: CPU time of its thread, or wall time.
func (w *watchdog) used() time.Duration {
	if w.hasCPU {
		if c, ok := w.clock.now(); ok {
			return c - w.cpu0
		}
	}
	return time.Since(w.start)
}

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	used := w.used()
	if used >= w.budget {
		w.fired = true
		w.rt.Interrupt(errBudget)
		return
	}
	if wall := max(MaxWallFactor*w.budget, MinMaxWall); time.Since(w.start) >= wall {
		w.fired = true
		w.rt.Interrupt(fmt.Errorf("%w (%v of wall time)", errBudget, wall))
		return
	}
	w.timer.Reset(max(w.budget-used, w.budget/20))
}

// stop ends the watch (it must be called on the goroutine that called
// watch) and returns the time the run used and whether it was
// interrupted (the runtime must then not be reused).
func (w *watchdog) stop() (time.Duration, bool) {
	used := w.used()
	w.clock.stop()
	w.mu.Lock()
	w.done = true
	fired := w.fired
	w.timer.Stop()
	w.mu.Unlock()
	return used, fired
}
