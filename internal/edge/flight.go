package edge

import (
	"context"
	"net/http"
	"sync"
)

// flightGroup makes concurrent misses for one key share one origin request,
// as groupcache's singleflight does. Unlike golang.org/x/sync/singleflight
// it lets a waiter give up when its own viewer goes away, and it always
// releases the waiters, even if fn panics.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight // guarded by mu: key -> fill in progress
}

// flight is one fill in progress.
type flight struct {
	done    chan struct{} // closed when res is set
	res     fillResult
	waiters int // guarded by flightGroup.mu: callers sharing this fill; tests count them
}

// do runs fn once for key among the callers that arrive while it runs and
// returns its result to all of them. fn runs on the first caller's
// goroutine, so a closure can hand that caller more than the shared result.
// do returns false when ctx ends before the result is ready; fn goes on
// for the others.
func (g *flightGroup) do(ctx context.Context, key string, fn func() fillResult) (fillResult, bool) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	if f, ok := g.m[key]; ok {
		f.waiters++
		g.mu.Unlock()
		select {
		case <-f.done:
			return f.res, true
		case <-ctx.Done():
			return fillResult{}, false
		}
	}
	f := &flight{done: make(chan struct{}), res: fillResult{status: http.StatusBadGateway, msg: msgBadGateway}}
	g.m[key] = f
	g.mu.Unlock()

	defer func() {
		g.mu.Lock()
		delete(g.m, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.res = fn()
	return f.res, true
}
