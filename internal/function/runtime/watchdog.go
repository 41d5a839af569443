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
	mu sync.Mutex
	// The run's, set by begin under mu; read by check under mu, and by
	// the run's own goroutine.
	rt     *goja.Runtime
	clock  cpuClock
	cpu0   time.Duration
	hasCPU bool
	start  time.Time
	budget time.Duration

	timer *time.Timer // guarded by mu
	done  bool        // guarded by mu: the run is over, interrupt no more
	fired bool        // guarded by mu: rt was interrupted
}

func watch(rt *goja.Runtime, budget time.Duration) *watchdog {
	w := &watchdog{}
	w.begin(rt, budget)
	return w
}

// begin starts watching a run on rt. A VM keeps its watchdog, and the
// timer in it, from run to run: begin after stop rearms it. A firing left
// over from the previous run finds the new one's start and clock (under
// mu), so it checks the run in progress, never an ended one.
func (w *watchdog) begin(rt *goja.Runtime, budget time.Duration) {
	clock := startCPUClock()
	cpu0, hasCPU := clock.now()
	start := time.Now()
	// Under mu: the timer may fire before AfterFunc returns, and check
	// needs w.timer.
	w.mu.Lock()
	w.rt, w.budget, w.clock, w.cpu0, w.hasCPU, w.start = rt, budget, clock, cpu0, hasCPU, start
	w.done, w.fired = false, false
	if w.timer == nil {
		w.timer = time.AfterFunc(budget, w.check)
	} else {
		w.timer.Reset(budget)
	}
	w.mu.Unlock()
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
//
// The watch ends (done, under mu) before the thread is unlocked: once
// unlocked, the thread runs other goroutines and its clock counts them,
// so a check still pending then would charge their time to this run.
func (w *watchdog) stop() (time.Duration, bool) {
	used := w.used()
	w.mu.Lock()
	w.done = true
	fired := w.fired
	w.timer.Stop()
	w.mu.Unlock()
	w.clock.stop()
	return used, fired
}
