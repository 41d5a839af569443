package edge

import "time"

// maintain reclaims markers every ReclaimInterval until Close.
func (e *Edge) maintain() {
	defer e.wg.Done()
	t := time.NewTicker(e.reclaimEvery)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
			e.reclaim()
		}
	}
}

// reclaim drops the markers that can match nothing any more (see
// markers.go). When some remain, held by dead objects that no viewer asks
// for, and the last sweep is older than SweepInterval, it sweeps the cache
// of dead objects and tries again. It returns the markers left.
func (e *Edge) reclaim() int64 {
	left := e.reclaimStates()
	if left == 0 {
		return 0
	}
	e.sweptMu.Lock()
	due := e.now().Sub(e.lastSweep) >= e.sweepEvery
	if due {
		e.lastSweep = e.now()
	}
	e.sweptMu.Unlock()
	if !due {
		return left
	}
	e.sweep()
	return e.reclaimStates()
}

func (e *Edge) reclaimStates() int64 {
	var left int64
	for _, d := range *e.states.Load() {
		left += d.reclaim(&e.clock)
	}
	return left
}

// sweep deletes every dead object. It walks the whole cache, in the
// background only, never on Apply.
func (e *Edge) sweep() {
	start := time.Now()
	n := 0
	for key, ent := range e.cache.All() {
		if e.ctx.Err() != nil {
			return
		}
		if ent.ds.dead(ent.name, ent.seq) {
			e.remove(key, ent)
			n++
		}
	}
	e.log.Debug("swept the edge cache", "dead", n, "took", time.Since(start))
}
