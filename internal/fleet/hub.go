package fleet

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

// HubConfig is what a Hub is built from.
type HubConfig struct {
	Store Store
	// Distributions returns every distribution, for snapshots.
	Distributions func() []*distribution.Distribution
	// EdgeTimeout is how long an edge may stay disconnected before it
	// leaves the registry, so that work does not wait for it forever.
	EdgeTimeout time.Duration
	// Retain is how many events the log keeps beyond what every edge has
	// applied (for edges that come back after leaving the registry).
	Retain uint64
	Logger *slog.Logger
	Now    func() time.Time
}

// Hub is the control plane's side of the fleet.
type Hub struct {
	store       Store
	dists       func() []*distribution.Distribution
	edgeTimeout time.Duration
	retain      uint64
	log         *slog.Logger
	now         func() time.Time

	mu       sync.Mutex
	edges    map[string]*edgeState // the registry; guarded by mu
	removed  []RemovedEdge         // most recent last, bounded; guarded by mu
	head     uint64                // last logged position; guarded by mu
	appended chan struct{}         // closed on every append; guarded by mu
	changed  chan struct{}         // closed when positions or the registry change; guarded by mu
	tracked  []*trackedEvent       // recent logged events by position, for the admin view; guarded by mu
	dirty    bool                  // registry changed since saved; guarded by mu

	stop        chan struct{}
	done        chan struct{}
	streamsStop chan struct{} // closed by StopStreams
	stopOnce    sync.Once
}

// StopStreams ends every stream, so that a server shutting down is not
// held by them; edges reconnect to the next control plane.
func (h *Hub) StopStreams() {
	h.stopOnce.Do(func() { close(h.streamsStop) })
}

type edgeState struct {
	Name      string    `json:"name"`
	Addr      string    `json:"addr"`
	Applied   uint64    `json:"applied"`
	LastSeen  time.Time `json:"last_seen"`
	Joined    time.Time `json:"joined"`
	connected int       // open streams
}

// RemovedEdge records an edge the registry dropped.
type RemovedEdge struct {
	Name    string    `json:"name"`
	At      time.Time `json:"at"`
	Applied uint64    `json:"applied"`
	Reason  string    `json:"reason"`
}

type trackedEvent struct {
	pos       uint64
	kind      string
	key       string
	logged    time.Time
	appliedBy map[string]time.Time
}

const maxTracked = 20000

// NewHub loads the registry and the log position and starts the sweeper.
func NewHub(ctx context.Context, c HubConfig) (*Hub, error) {
	h := &Hub{store: c.Store, dists: c.Distributions, edgeTimeout: c.EdgeTimeout, retain: c.Retain, log: c.Logger, now: c.Now,
		edges: map[string]*edgeState{}, appended: make(chan struct{}), changed: make(chan struct{}),
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
	_, last, err := h.store.LogBounds(ctx)
	if err != nil {
		return nil, err
	}
	h.head = last
	stored, err := h.store.Edges(ctx)
	if err != nil {
		return nil, err
	}
	start := h.now()
	for name, data := range stored {
		var e edgeState
		if err := json.Unmarshal(data, &e); err != nil {
			h.log.Warn("ignoring unreadable edge record", "name", name, "err", err)
			continue
		}
		// Its timeout counts from now: it had no chance to reconnect yet.
		e.LastSeen = start
		h.edges[name] = &e
	}
	go h.sweep()
	return h, nil
}

// Close stops the sweeper after saving the registry.
func (h *Hub) Close() {
	close(h.stop)
	<-h.done
}

// Expect registers an edge before it connects, so that work logged in the
// meantime waits for it (the in-process edge of `openfront serve`).
func (h *Hub) Expect(name, addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.edges[name]; !ok {
		h.edges[name] = &edgeState{Name: name, Addr: addr, LastSeen: h.now(), Joined: h.now()}
		h.markChangedLocked()
	}
}

// Publish logs ev under key (idempotently) and wakes the streams.
func (h *Hub) Publish(ctx context.Context, key string, ev Event) (uint64, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	pos, err := h.store.AppendEvent(ctx, key, data)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos > h.head {
		h.head = pos
	}
	close(h.appended)
	h.appended = make(chan struct{})
	h.trackLocked(pos, ev.Kind, key)
	return pos, nil
}

func (h *Hub) trackLocked(pos uint64, kind, key string) {
	i := sort.Search(len(h.tracked), func(i int) bool { return h.tracked[i].pos >= pos })
	if i < len(h.tracked) && h.tracked[i].pos == pos {
		return
	}
	t := &trackedEvent{pos: pos, kind: kind, key: key, logged: h.now(), appliedBy: map[string]time.Time{}}
	h.tracked = slices.Insert(h.tracked, i, t)
	if len(h.tracked) > maxTracked {
		h.tracked = slices.Delete(h.tracked, 0, len(h.tracked)-maxTracked)
	}
}

// WaitApplied returns when every edge in the registry has applied pos.
// Edges that stay away longer than the edge timeout leave the registry, so
// this does not wait for them forever.
func (h *Hub) WaitApplied(ctx context.Context, pos uint64) error {
	for {
		h.mu.Lock()
		done := true
		for _, e := range h.edges {
			if e.Applied < pos {
				done = false
				break
			}
		}
		ch := h.changed
		h.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *Hub) markChangedLocked() {
	h.dirty = true
	close(h.changed)
	h.changed = make(chan struct{})
}

// Apply implements invalidation.Applier: the invalidation is logged, and
// Apply returns once every edge has applied it.
func (h *Hub) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	pos, err := h.Publish(ctx, "inv/"+inv.DistributionID+"/"+inv.ID, Event{Kind: KindInvalidation, Invalidation: &inv})
	if err != nil {
		return err
	}
	return h.WaitApplied(ctx, pos)
}

// Deploy implements distribution.Deployer: the configuration is logged,
// and Deploy returns once every edge runs it.
func (h *Hub) Deploy(ctx context.Context, d distribution.Distribution) error {
	d.RawConfig = nil // edges act on the typed configuration only
	pos, err := h.Publish(ctx, "dist/"+d.ID+"/"+d.ETag, Event{Kind: KindDistribution, Distribution: &d})
	if err != nil {
		return err
	}
	return h.WaitApplied(ctx, pos)
}

// Remove implements distribution.Remover: edges forget the distribution.
func (h *Hub) Remove(ctx context.Context, id string) error {
	_, err := h.Publish(ctx, "del/"+id, Event{Kind: KindDelete, DistributionID: id})
	return err
}

// connect records an edge's stream and returns the position it resumes from.
func (h *Hub) connect(name, addr string, applied uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.edges[name]
	if e == nil {
		e = &edgeState{Name: name, Joined: h.now()}
		h.edges[name] = e
		h.log.Info("edge joined the fleet", "edge", name, "addr", addr)
	}
	e.Addr = addr
	e.connected++
	e.LastSeen = h.now()
	h.advanceLocked(e, applied)
	h.markChangedLocked()
}

// disconnect records the end of an edge's stream.
func (h *Hub) disconnect(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.edges[name]; e != nil {
		e.connected--
		e.LastSeen = h.now()
	}
}

// seen notes that an edge's stream is alive.
func (h *Hub) seen(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.edges[name]; e != nil {
		e.LastSeen = h.now()
	}
}

// ack records that an edge has applied everything up to pos. It reports
// false for an edge the registry does not hold (it must reconnect).
func (h *Hub) ack(name string, pos uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.edges[name]
	if e == nil {
		return false
	}
	e.LastSeen = h.now()
	if h.advanceLocked(e, pos) {
		h.markChangedLocked()
	}
	return true
}

func (h *Hub) advanceLocked(e *edgeState, pos uint64) bool {
	if pos > h.head {
		pos = h.head // an edge cannot have applied what was never logged
	}
	if pos <= e.Applied {
		return false
	}
	now := h.now()
	i := sort.Search(len(h.tracked), func(i int) bool { return h.tracked[i].pos > e.Applied })
	for ; i < len(h.tracked) && h.tracked[i].pos <= pos; i++ {
		h.tracked[i].appliedBy[e.Name] = now
	}
	e.Applied = pos
	return true
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
			if e.connected == 0 && now.Sub(e.LastSeen) > h.edgeTimeout {
				delete(h.edges, name)
				h.removed = append(h.removed, RemovedEdge{Name: name, At: now, Applied: e.Applied,
					Reason: "silent for longer than the edge timeout (" + h.edgeTimeout.String() + ")"})
				if len(h.removed) > 100 {
					h.removed = h.removed[1:]
				}
				h.log.Warn("edge left the registry: silent for longer than the edge timeout", "edge", name, "timeout", h.edgeTimeout, "applied", e.Applied, "head", h.head)
				h.markChangedLocked()
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

// save writes the registry when it changed.
func (h *Hub) save() {
	h.mu.Lock()
	if !h.dirty {
		h.mu.Unlock()
		return
	}
	h.dirty = false
	recs := map[string][]byte{}
	for name, e := range h.edges {
		data, _ := json.Marshal(e)
		recs[name] = data
	}
	h.mu.Unlock()
	if err := h.store.SaveEdges(context.Background(), recs); err != nil {
		h.log.Error("saving the edge registry", "err", err)
		h.mu.Lock()
		h.dirty = true
		h.mu.Unlock()
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

// EdgeStatus is one edge as the admin endpoint shows it.
type EdgeStatus struct {
	Name      string    `json:"name"`
	Addr      string    `json:"addr"`
	Connected bool      `json:"connected"`
	LastSeen  time.Time `json:"last_seen"`
	Joined    time.Time `json:"joined"`
	Applied   uint64    `json:"applied_position"`
	// Lag is how many logged events the edge has yet to apply.
	Lag uint64 `json:"lag"`
}

// Status is the fleet as the admin endpoint shows it.
type Status struct {
	Head    uint64        `json:"head_position"`
	Edges   []EdgeStatus  `json:"edges"`
	Removed []RemovedEdge `json:"removed_edges"`
}

// Status returns the registry.
func (h *Hub) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Status{Head: h.head, Edges: []EdgeStatus{}, Removed: slices.Clone(h.removed)}
	if s.Removed == nil {
		s.Removed = []RemovedEdge{}
	}
	for _, e := range h.edges {
		s.Edges = append(s.Edges, EdgeStatus{Name: e.Name, Addr: e.Addr, Connected: e.connected > 0, LastSeen: e.LastSeen,
			Joined: e.Joined, Applied: e.Applied, Lag: h.head - min(e.Applied, h.head)})
	}
	slices.SortFunc(s.Edges, func(a, b EdgeStatus) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return s
}

// EventStatus says which edges applied a logged event, and when.
type EventStatus struct {
	Position uint64               `json:"position"`
	Kind     string               `json:"kind"`
	Logged   time.Time            `json:"logged"`
	Applied  map[string]time.Time `json:"applied_by"`
	Pending  []string             `json:"pending"`
}

// EventStatus returns the status of the event logged under key, if it is
// among the recent ones the hub tracks.
func (h *Hub) EventStatus(key string) (EventStatus, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.tracked) - 1; i >= 0; i-- {
		t := h.tracked[i]
		if t.key != key {
			continue
		}
		s := EventStatus{Position: t.pos, Kind: t.kind, Logged: t.logged, Applied: map[string]time.Time{}, Pending: []string{}}
		for n, at := range t.appliedBy {
			s.Applied[n] = at
		}
		for n, e := range h.edges {
			if e.Applied < t.pos {
				s.Pending = append(s.Pending, n)
			}
		}
		slices.Sort(s.Pending)
		return s, true
	}
	return EventStatus{}, false
}
