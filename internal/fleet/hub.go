package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
)

// HubConfig is what a Hub is built from.
type HubConfig struct {
	Store Store
	// Distributions returns every distribution, for snapshots.
	Distributions func() []*distribution.Distribution
	// Resources returns every resource (policies, origin access
	// controls...), for snapshots; none when nil.
	Resources ResourceSource
	// EdgeTimeout is how long an edge may stay silent (no acknowledgement,
	// no new stream) before it leaves the registry, so that work does not
	// wait for it forever. Edges acknowledge at least every heartbeat, and
	// take at most half of it as their max staleness.
	EdgeTimeout time.Duration
	// Retain is how many events the log keeps beyond what every edge has
	// applied (for edges that come back after leaving the registry).
	Retain uint64
	// LocalEdge is the name of this process's in-process edge, empty when
	// it runs none. An in-process edge of the stored registry by another
	// name belonged to a previous run of the process, which is gone with
	// it: it leaves the registry at start. No edge of another process may
	// take LocalEdge's name.
	LocalEdge string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Hub is the control plane's side of the fleet.
type Hub struct {
	store       Store
	invLog      InvalidationLog // store, if it implements it; else nil
	dists       func() []*distribution.Distribution
	resources   ResourceSource // never nil
	edgeTimeout time.Duration
	retain      uint64
	localEdge   string
	log         *slog.Logger
	now         func() time.Time

	mu       sync.Mutex
	edges    map[string]*edgeState // the registry; guarded by mu
	removed  []RemovedEdge         // most recent last, bounded; guarded by mu
	head     uint64                // last published position; guarded by mu
	appended chan struct{}         // closed on every publish; guarded by mu
	waiters  []*waiter             // WaitApplied calls, by position; guarded by mu
	minAck   uint64                // lowest Applied of the registry (head when empty); guarded by mu
	atMin    int                   // edges whose Applied is minAck; guarded by mu
	tracked  trackRing             // recent logged events by position, for the admin view; guarded by mu
	// changed holds the registry keys whose entry changed (or left the
	// registry) since save last wrote it: save writes those entries only.
	// Guarded by mu.
	changed map[string]bool
	// left holds the instances that left the fleet (most recent last,
	// bounded), so that a stream request of a stopped edge that arrives
	// after its leave does not bring it back. Guarded by mu.
	left []string

	frames frameCache // encoded SSE frames of recent events, shared by all streams

	stop        chan struct{}
	done        chan struct{}
	streamsStop chan struct{} // closed by StopStreams
	stopOnce    sync.Once
	closeOnce   sync.Once
	// saveMu makes saves one at a time, so that two saves' writes of one
	// entry cannot reach the store in the wrong order.
	saveMu sync.Mutex
}

// StopStreams ends every stream, so that a server shutting down is not
// held by them; edges reconnect to the next control plane.
func (h *Hub) StopStreams() {
	h.stopOnce.Do(func() { close(h.streamsStop) })
}

// NewHub loads the registry and the log position and starts the sweeper.
func NewHub(ctx context.Context, c HubConfig) (*Hub, error) {
	h := &Hub{store: c.Store, dists: c.Distributions, resources: c.Resources, edgeTimeout: c.EdgeTimeout, retain: c.Retain, localEdge: c.LocalEdge, log: c.Logger, now: c.Now,
		edges: map[string]*edgeState{}, changed: map[string]bool{}, appended: make(chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{}), streamsStop: make(chan struct{})}
	if h.edgeTimeout <= 0 {
		h.edgeTimeout = 30 * time.Second
	}
	if h.retain == 0 {
		h.retain = 100000
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.store == nil {
		return nil, errors.New("fleet: a hub needs a Store")
	}
	h.invLog, _ = h.store.(InvalidationLog)
	if h.dists == nil {
		h.dists = func() []*distribution.Distribution { return nil }
	}
	if h.resources == nil {
		h.resources = func() []resource.Resource { return nil }
	}
	_, last, err := h.store.LogBounds(ctx)
	if err != nil {
		return nil, err
	}
	h.head = last
	h.frames.reset(last)
	stored, err := h.store.Edges(ctx)
	if err != nil {
		return nil, err
	}
	start := h.now()
	for name, data := range stored {
		var e edgeState
		if err := json.Unmarshal(data, &e); err != nil {
			h.log.Warn("dropping an unreadable edge record", "name", name, "err", err)
			h.changed[name] = true // save deletes it
			continue
		}
		// Its timeout counts from now: it had no chance to reconnect yet.
		e.LastSeen = start
		e.saved = e.Applied
		e.kick = make(chan struct{})
		h.edges[name] = &e
		switch {
		case e.InProcess && name != h.localEdge:
			// The previous run's in-process edge: gone with that process.
			h.removeLocked(name, &e, "the control plane restarted without this in-process edge")
			h.log.Info("the previous run's in-process edge left the registry: this run has none by that name", "edge", name, "in_process_edge", h.localEdge)
		case name == h.localEdge && !e.InProcess:
			// An edge of another process held the name this run gives its
			// in-process edge, which takes it: that process is replaced
			// (see connect).
			delete(h.edges, name)
			e.Replaced = true
			h.edges[replacedKey(name, e.Instance)] = &e
			h.changed[name], h.changed[replacedKey(name, e.Instance)] = true, true
		}
	}
	h.recomputeMinLocked()
	go h.sweep()
	return h, nil
}

// Close stops the sweeper after saving the registry. Closing again does
// nothing.
func (h *Hub) Close() {
	h.closeOnce.Do(func() { close(h.stop) })
	<-h.done
}

// sweep drops edges silent for longer than the timeout, saves the
// registry, and trims the log.
func (h *Hub) sweep() {
	defer close(h.done)
	tick := time.NewTicker(min(time.Second, h.edgeTimeout/4))
	defer tick.Stop()
	lastTrim := h.now()
	for {
		select {
		case <-h.stop:
			h.save()
			return
		case <-tick.C:
		}
		h.mu.Lock()
		now := h.now()
		for name, e := range h.edges {
			if silent := now.Sub(e.LastSeen); e.Replaced && silent > h.edgeTimeout/2 {
				h.removeLocked(name, e, "replaced by a new process of the same name, and silent for half the edge timeout ("+(h.edgeTimeout/2).String()+")")
				h.log.Info("a replaced edge left the registry: silent for half the edge timeout", "edge", name, "silent", silent.Round(time.Millisecond))
			} else if silent > h.edgeTimeout {
				h.removeLocked(name, e, "silent for longer than the edge timeout ("+h.edgeTimeout.String()+")")
				h.log.Warn("edge left the registry: silent for longer than the edge timeout", "edge", name, "timeout", h.edgeTimeout,
					"silent", silent.Round(time.Millisecond), "open_streams", e.connected, "applied", e.Applied, "head", h.head)
			}
		}
		h.mu.Unlock()
		h.save()
		if now.Sub(lastTrim) > time.Minute {
			lastTrim = now
			h.trim()
		}
	}
}

// trim drops log entries every edge has applied, keeping Retain more.
func (h *Hub) trim() {
	h.mu.Lock()
	low := h.head
	for _, e := range h.edges {
		low = min(low, e.Applied)
	}
	h.mu.Unlock()
	if low > h.retain {
		if err := h.store.TrimEvents(context.Background(), low-h.retain); err != nil {
			h.log.Error("trimming the fleet log", "err", err)
		}
	}
}
