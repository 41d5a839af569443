package fleet

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	dirty    bool                  // registry changed since saved; guarded by mu
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
}

// StopStreams ends every stream, so that a server shutting down is not
// held by them; edges reconnect to the next control plane.
func (h *Hub) StopStreams() {
	h.stopOnce.Do(func() { close(h.streamsStop) })
}

// edgeState is one edge of the registry. Its fields are guarded by Hub.mu.
type edgeState struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	Applied uint64 `json:"applied"`
	// AppliedAt is when the hub learned of Applied.
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// LastSeen is the last acknowledgement or stream opened: what proves
	// the edge alive (a ping written into its socket proves nothing).
	LastSeen time.Time `json:"last_seen"`
	Joined   time.Time `json:"joined"`
	// Instance identifies the process that holds the name: a token each
	// Follower draws at random when it is created. Empty until a stream
	// claims an entry made by Expect.
	Instance string `json:"instance,omitempty"`
	// InProcess marks the in-process edge of the control plane's process.
	InProcess bool `json:"in_process,omitempty"`
	// Replaced marks a process whose name another one took: it stays,
	// under its replacedKey, until it is surely no longer serving from its
	// cache. See Hub.connect.
	Replaced  bool          `json:"replaced,omitempty"`
	connected int           // open streams
	kick      chan struct{} // closed (by kickLocked) when the edge's streams must end
	kicked    bool
}

// RemovedEdge records an edge the registry dropped.
type RemovedEdge struct {
	Name    string    `json:"name"`
	At      time.Time `json:"at"`
	Applied uint64    `json:"applied"`
	Reason  string    `json:"reason"`
}

// waiter is a WaitApplied call waiting for every edge to reach pos.
type waiter struct {
	pos  uint64
	done chan struct{}
}

// NewHub loads the registry and the log position and starts the sweeper.
func NewHub(ctx context.Context, c HubConfig) (*Hub, error) {
	h := &Hub{store: c.Store, dists: c.Distributions, edgeTimeout: c.EdgeTimeout, retain: c.Retain, localEdge: c.LocalEdge, log: c.Logger, now: c.Now,
		edges: map[string]*edgeState{}, appended: make(chan struct{}),
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
			h.log.Warn("ignoring unreadable edge record", "name", name, "err", err)
			continue
		}
		// Its timeout counts from now: it had no chance to reconnect yet.
		e.LastSeen = start
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
			h.dirty = true
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

// Expect registers an edge before it connects, so that work logged in the
// meantime waits for it (the in-process edge of `openfront serve`).
func (h *Hub) Expect(name, addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.edges[name]; !ok {
		h.addEdgeLocked(name, addr)
	}
}

func (h *Hub) addEdgeLocked(name, addr string) *edgeState {
	now := h.now()
	e := &edgeState{Name: name, Addr: addr, LastSeen: now, Joined: now, InProcess: name == h.localEdge, kick: make(chan struct{})}
	h.edges[name] = e
	h.dirty = true
	h.recomputeMinLocked()
	return e
}

// Publish logs ev under key (idempotently) and wakes the streams. When key
// was logged before (work resumed after a restart, or an event the store
// wrote in the same transaction as the change it carries), the existing
// position is returned and the streams are woken all the same.
func (h *Hub) Publish(ctx context.Context, key string, ev Event) (uint64, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	return h.publish(ctx, key, ev.Kind, data)
}

// publish is Publish of an event already encoded as data.
func (h *Hub) publish(ctx context.Context, key, kind string, data []byte) (uint64, error) {
	pos, err := h.store.AppendEvent(ctx, key, data)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.announceLocked([]loggedEvent{{pos, data, kind, key, 0}})
	return pos, nil
}

// loggedEvent is an event the store has logged at pos as data; i is its
// index in ApplyAll's batch.
type loggedEvent struct {
	pos       uint64
	data      []byte
	kind, key string
	i         int
}

// announceLocked makes evs, logged events in log order, known to the hub
// and its streams: frames cached, head moved, admin view, streams and
// waiters woken once for all of them.
func (h *Hub) announceLocked(evs []loggedEvent) {
	// Cache the frames of each run of positions new to the hub. What the
	// log holds there is the event's data (appended now, or by the store
	// with the change it carries, which logs the same bytes: see
	// InvalidationEvent), so each frame is encoded once for every stream.
	// A key logged before (work resumed after a restart) may hold other
	// bytes, and a gap is an event logged but not yet announced: streams
	// read those from the log.
	run := make([]StoredEvent, 0, len(evs))
	for _, e := range evs {
		if e.pos <= h.head {
			continue
		}
		if len(run) > 0 && e.pos != run[len(run)-1].Pos+1 {
			h.frames.add(run[0].Pos-1, run, nil)
			run = run[:0]
		}
		run = append(run, StoredEvent{Pos: e.pos, Data: e.data})
		h.head = e.pos
	}
	if len(run) > 0 {
		h.frames.add(run[0].Pos-1, run, nil)
		if len(h.edges) == 0 {
			h.minAck, h.atMin = h.head, 0
		}
	}
	close(h.appended)
	h.appended = make(chan struct{})
	for _, e := range evs {
		h.trackLocked(e.pos, e.kind, e.key)
	}
	h.wakeLocked()
}

// trackLocked adds the event at pos to the admin view, crediting the edges
// already past it (an event republished after a restart was applied by
// some before it).
func (h *Hub) trackLocked(pos uint64, kind, key string) {
	i, found := h.tracked.search(pos)
	if found {
		return
	}
	t := trackedEvent{pos: pos, kind: kind, key: key, logged: h.now()}
	for _, e := range h.edges {
		if e.Applied >= pos {
			at := e.AppliedAt
			if at.IsZero() {
				at = t.logged
			}
			t.appliedBy = append(t.appliedBy, edgeApplied{e.Name, at})
		}
	}
	h.tracked.insert(i, t)
}

// WaitApplied returns when every edge in the registry has applied pos.
// Edges that stay silent longer than the edge timeout leave the registry,
// so this does not wait for them forever.
func (h *Hub) WaitApplied(ctx context.Context, pos uint64) error {
	h.mu.Lock()
	if h.appliedByAllLocked(pos) {
		h.mu.Unlock()
		return nil
	}
	w := &waiter{pos: pos, done: make(chan struct{})}
	i := len(h.waiters)
	for i > 0 && h.waiters[i-1].pos > pos {
		i--
	}
	h.waiters = slices.Insert(h.waiters, i, w)
	h.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		if i := slices.Index(h.waiters, w); i >= 0 {
			h.waiters = slices.Delete(h.waiters, i, i+1)
		}
		h.mu.Unlock()
		select {
		case <-w.done: // woken meanwhile: done after all
			return nil
		default:
		}
		return ctx.Err()
	}
}

// appliedByAllLocked reports whether every edge has applied pos.
func (h *Hub) appliedByAllLocked(pos uint64) bool {
	return len(h.edges) == 0 || h.minAck >= pos
}

// recomputeMinLocked sets minAck and atMin from the registry.
func (h *Hub) recomputeMinLocked() {
	m, n := h.head, 0
	for _, e := range h.edges {
		switch {
		case e.Applied < m:
			m, n = e.Applied, 1
		case e.Applied == m:
			n++
		}
	}
	h.minAck, h.atMin = m, n
}

// wakeLocked releases the waiters whose position every edge has applied.
func (h *Hub) wakeLocked() {
	n := 0
	for n < len(h.waiters) && h.appliedByAllLocked(h.waiters[n].pos) {
		close(h.waiters[n].done)
		n++
	}
	if n > 0 {
		h.waiters = slices.Delete(h.waiters, 0, n)
	}
}

// Apply implements invalidation.Applier: the invalidation is logged, and
// Apply returns once every edge has applied it.
func (h *Hub) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	var err error
	logged := h.logInvalidations(ctx, []invalidation.Invalidation{inv}, func(_ int, e error) { err = e })
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.announceLocked(logged)
	h.mu.Unlock()
	return h.WaitApplied(ctx, logged[0].pos)
}

// logInvalidations returns the logged events of invs, in invs' order; an
// invalidation that could not be logged is reported to failed and left
// out. A store that logged the events with the invalidations
// (InvalidationLog) hands them over in one call; the others (and any it
// does not hold) are encoded, as Publish would without reflection, and
// appended under their key (which finds one the store logged all the same).
func (h *Hub) logInvalidations(ctx context.Context, invs []invalidation.Invalidation, failed func(i int, err error)) []loggedEvent {
	var known []StoredEvent
	if h.invLog != nil {
		known = make([]StoredEvent, len(invs))
		if h.invLog.InvalidationEvents(ctx, invs, known) != nil {
			known = nil
		}
	}
	logged := make([]loggedEvent, 0, len(invs))
	for i := range invs {
		key := invalidationKey(invs[i])
		var ev StoredEvent
		if known != nil && known[i].Pos != 0 {
			ev = known[i]
		} else {
			data, err := encodeInvalidationEvent(&invs[i])
			var pos uint64
			if err == nil {
				pos, err = h.store.AppendEvent(ctx, key, data)
			}
			if err != nil {
				failed(i, err)
				continue
			}
			ev = StoredEvent{Pos: pos, Data: data}
		}
		logged = append(logged, loggedEvent{ev.Pos, ev.Data, KindInvalidation, key, i})
	}
	return logged
}

// ApplyAll implements invalidation.BatchApplier: the invalidations are
// logged, the streams woken once for all of them, and done is called for
// each once every edge has applied the last. It returns once they are
// logged and published, without waiting for the edges: done is called
// later, from a goroutine of its own. Waiting here would hold every later
// batch back from every edge until the slowest edge acknowledged this one
// (a stalled edge: until it left the registry, after the edge timeout).
func (h *Hub) ApplyAll(ctx context.Context, invs []invalidation.Invalidation, done func(i int, err error)) {
	logged := h.logInvalidations(ctx, invs, done)
	if len(logged) == 0 {
		return
	}
	// In log order: the frame cache and the admin view take events so.
	slices.SortFunc(logged, func(a, b loggedEvent) int { return cmp.Compare(a.pos, b.pos) })
	h.mu.Lock()
	h.announceLocked(logged)
	h.mu.Unlock()
	go func() {
		err := h.WaitApplied(ctx, logged[len(logged)-1].pos)
		for _, l := range logged {
			done(l.i, err)
		}
	}()
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

// liveWindow is how recently an edge with an open stream must have been
// seen (acknowledgement or stream opened) to be live: a live edge's name
// cannot be taken by another process. Edges acknowledge at least every
// heartbeat.
const liveWindow = 3 * heartbeat

// maxLeft bounds Hub.left.
const maxLeft = 1024

// NameConflictError is a stream refused because the edge's name belongs to
// another process: a live edge, or the control plane's in-process edge.
type NameConflictError struct{ Msg string }

func (e *NameConflictError) Error() string { return e.Msg }

// liveLocked reports whether e is live: a stream of it is open and it was
// seen within liveWindow. A process killed on the same host has its
// stream closed by its kernel at once; one cut off by the network (or
// stopped) is silent, and stops being live after liveWindow.
func (h *Hub) liveLocked(e *edgeState, now time.Time) bool {
	return e.connected > 0 && now.Sub(e.LastSeen) <= liveWindow
}

// replacedKey is the registry key of instance's entry once another
// process took its name.
func replacedKey(name, instance string) string { return name + "#" + instance }

// kickLocked ends e's streams.
func kickLocked(e *edgeState) {
	if !e.kicked {
		e.kicked = true
		close(e.kick)
	}
}

// connect records an edge's stream, crediting it with applied, and
// returns the registry entry the stream belongs to: its disconnect and
// its kick are that entry's, even if the edge leaves the registry and
// joins again by the same name meanwhile.
//
// Who holds a name: the process (req.instance) that holds it reconnects
// to its entry; the in-process edge (req.local) always holds its own
// name, which no other process may take. Another process is refused
// (NameConflictError) while the holder is live; when the holder is not
// live, the new process takes the name, and the holder stays in the
// registry as replaced (under replacedKey, its acknowledgements refused)
// until it leaves or has been silent for half the edge timeout: by then
// it has stopped answering from its cache (its max staleness is at most
// that, counted from an acknowledgement it sent before the hub last saw
// it), whether it was dead or only cut off. Work waits for it until then.
// An instance that left the fleet is refused.
func (h *Hub) connect(req streamRequest, applied uint64) (*edgeState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if req.instance != "" && slices.Contains(h.left, req.instance) {
		return nil, errors.New("this edge process (instance " + req.instance + ") has left the fleet: start a new one")
	}
	e := h.edges[req.name]
	switch {
	case req.local:
	case req.name == h.localEdge:
		return nil, &NameConflictError{"edge " + req.name + " is the name of the control plane's in-process edge: choose another --name"}
	case e == nil, e.Instance == "", e.Instance == req.instance:
	case h.liveLocked(e, now):
		return nil, &NameConflictError{"edge " + req.name + " is already in the fleet, live (another process: stream open, last seen " +
			now.Sub(e.LastSeen).Round(time.Millisecond).String() + " ago, serving viewers at " + e.Addr + "): stop it or choose another --name"}
	default:
		h.log.Warn("a new process takes the name of an edge that is not live; work waits for the previous one until it has been silent for half the edge timeout",
			"edge", req.name, "addr", req.addr, "previous_addr", e.Addr, "previous_last_seen", e.LastSeen, "open_streams", e.connected)
		delete(h.edges, req.name)
		kickLocked(e)
		e.Replaced = true
		h.edges[replacedKey(req.name, e.Instance)] = e
		e = nil
	}
	if old := h.edges[replacedKey(req.name, req.instance)]; old != nil {
		// Replaced, and back: its entry is the name's again.
		h.removeLocked(replacedKey(req.name, req.instance), old, "its process holds the name again")
	}
	if e == nil {
		e = h.addEdgeLocked(req.name, req.addr)
		h.log.Info("edge joined the fleet", "edge", req.name, "addr", req.addr)
	}
	e.Instance = req.instance
	e.Addr = req.addr
	e.connected++
	e.LastSeen = now
	h.advanceLocked(e, applied)
	h.dirty = true
	h.recomputeMinLocked()
	h.wakeLocked()
	return e, nil
}

// leave takes the edge called name out of the registry if instance holds
// it (an edge stopping), and remembers that instance left. It reports
// whether the registry held it.
func (h *Hub) leave(name, instance string) bool {
	h.mu.Lock()
	if !slices.Contains(h.left, instance) {
		if len(h.left) >= maxLeft {
			h.left = slices.Delete(h.left, 0, len(h.left)-maxLeft+1)
		}
		h.left = append(h.left, instance)
	}
	key := name
	e := h.edges[key]
	if e == nil || e.Instance != instance {
		key = replacedKey(name, instance)
		e = h.edges[key]
	}
	ok := e != nil
	if ok {
		h.removeLocked(key, e, "left the fleet (stopped)")
		h.log.Info("edge left the fleet: stopped", "edge", name, "applied", e.Applied, "head", h.head)
	}
	h.mu.Unlock()
	if ok {
		h.save()
	}
	return ok
}

// removeLocked drops the edge held under name from the registry: its
// streams end, and work stops waiting for it.
func (h *Hub) removeLocked(name string, e *edgeState, reason string) {
	delete(h.edges, name)
	kickLocked(e)
	h.removed = append(h.removed, RemovedEdge{Name: name, At: h.now(), Applied: e.Applied, Reason: reason})
	if len(h.removed) > 100 {
		h.removed = h.removed[1:]
	}
	h.dirty = true
	h.recomputeMinLocked()
	h.wakeLocked()
}

// disconnect records the end of a stream of e.
func (h *Hub) disconnect(e *edgeState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.connected--
}

// ack records that an edge has applied everything up to pos, and that it
// is alive. It reports false for an edge the registry does not hold, or
// holds for another instance (it must reconnect), and the head otherwise.
func (h *Hub) ack(name, instance string, pos uint64) (head uint64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.edges[name]
	if e == nil {
		return 0, false
	}
	if e.Instance != instance {
		// An entry no stream claimed yet (stored before instances were
		// recorded) is the acknowledging edge's; any other belongs to
		// another process.
		if e.Instance != "" || e.InProcess {
			return 0, false
		}
		e.Instance = instance
	}
	e.LastSeen = h.now()
	old := e.Applied
	if h.advanceLocked(e, pos) {
		h.dirty = true
		// Only the last edge to leave the minimum moves it: O(edges) once
		// per position, not per acknowledgement.
		if old == h.minAck {
			if h.atMin--; h.atMin <= 0 {
				h.recomputeMinLocked()
				h.wakeLocked()
			}
		}
	}
	return h.head, true
}

func (h *Hub) advanceLocked(e *edgeState, pos uint64) bool {
	if pos > h.head {
		pos = h.head // an edge cannot have applied what was never logged
	}
	if pos <= e.Applied {
		return false
	}
	now := h.now()
	h.tracked.credit(e.Name, e.Applied, pos, now)
	e.Applied = pos
	e.AppliedAt = now
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
	// InProcess marks the control plane's in-process edge.
	InProcess bool `json:"in_process"`
	// Replaced marks a process whose name another one took (Name is then
	// name#instance); work waits for it until it is surely stale.
	Replaced bool   `json:"replaced,omitempty"`
	Applied  uint64 `json:"applied_position"`
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
	for key, e := range h.edges {
		s.Edges = append(s.Edges, EdgeStatus{Name: key, Replaced: e.Replaced, Addr: e.Addr, Connected: e.connected > 0, LastSeen: e.LastSeen,
			Joined: e.Joined, InProcess: e.InProcess, Applied: e.Applied, Lag: h.head - min(e.Applied, h.head)})
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
	Position uint64    `json:"position"`
	Kind     string    `json:"kind"`
	Logged   time.Time `json:"logged"`
	// Applied maps each edge that applied the event to when the hub
	// learned it (for an edge that applied it before the control plane
	// restarted: when it acknowledged its latest position, no earlier).
	Applied map[string]time.Time `json:"applied_by"`
	Pending []string             `json:"pending"`
}

// EventStatus returns the status of the event logged under key, if it is
// among the recent ones the hub tracks.
func (h *Hub) EventStatus(key string) (EventStatus, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := h.tracked.len() - 1; i >= 0; i-- {
		t := h.tracked.at(i)
		if t.key != key {
			continue
		}
		s := EventStatus{Position: t.pos, Kind: t.kind, Logged: t.logged, Applied: map[string]time.Time{}, Pending: []string{}}
		for _, a := range t.appliedBy {
			s.Applied[a.name] = a.at
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

// maxTracked is how many recent events the admin view remembers.
const maxTracked = 20000

type trackedEvent struct {
	pos       uint64
	kind      string
	key       string
	logged    time.Time
	appliedBy []edgeApplied // allocated when the first edge applies it
}

type edgeApplied struct {
	name string
	at   time.Time
}

// trackRing holds up to maxTracked events in ascending position order,
// the oldest overwritten first: appending is O(1).
type trackRing struct {
	buf   []trackedEvent // grows to maxTracked, then wraps
	start int            // index in buf of the oldest event once full
}

func (r *trackRing) len() int { return len(r.buf) }

func (r *trackRing) at(i int) *trackedEvent {
	if len(r.buf) < maxTracked {
		return &r.buf[i]
	}
	return &r.buf[(r.start+i)%maxTracked]
}

// search returns the index of the first event at pos or above, and
// whether it is at pos.
func (r *trackRing) search(pos uint64) (int, bool) {
	n := r.len()
	if n == 0 || r.at(n-1).pos < pos { // the usual case: a new event
		return n, false
	}
	i := sort.Search(n, func(i int) bool { return r.at(i).pos >= pos })
	return i, i < n && r.at(i).pos == pos
}

// insert puts t at index i, dropping the oldest event when full.
func (r *trackRing) insert(i int, t trackedEvent) {
	n := r.len()
	switch {
	case i == n && n < maxTracked:
		r.buf = append(r.buf, t)
	case i == n:
		r.buf[r.start] = t
		r.start = (r.start + 1) % maxTracked
	default:
		// Older than the newest: concurrent Publish calls reach the lock
		// in scheduling order, not position order, so this is common under
		// load; shift the few newer events up by one rather than rebuild.
		if n == maxTracked {
			if i == 0 {
				return // older than everything kept
			}
			// Drop the oldest: its slot becomes the new last one.
			r.start = (r.start + 1) % maxTracked
			i--
			n--
		} else {
			r.buf = append(r.buf, trackedEvent{})
		}
		for j := n; j > i; j-- {
			*r.at(j) = *r.at(j - 1)
		}
		*r.at(i) = t
	}
}

// credit records name as having applied the events in (from, to].
func (r *trackRing) credit(name string, from, to uint64, at time.Time) {
	i, _ := r.search(from + 1)
	for ; i < r.len(); i++ {
		t := r.at(i)
		if t.pos > to {
			break
		}
		if !slices.ContainsFunc(t.appliedBy, func(a edgeApplied) bool { return a.name == name }) {
			t.appliedBy = append(t.appliedBy, edgeApplied{name, at})
		}
	}
}

// PublishConfigFile logs the distributions of the control plane's
// configuration file (the whole file: edges forget file distributions it
// no longer declares), so that edges which resume after a restart with a
// changed file run what it now says. Nothing is logged when the log's
// last event is this same file, or when there is no file and no log.
// Like Remove, it does not wait for the edges.
func (h *Hub) PublishConfigFile(ctx context.Context, ds []*distribution.Distribution) (uint64, error) {
	list := make([]distribution.Distribution, 0, len(ds))
	for _, d := range ds {
		c := *d
		c.RawConfig = nil
		c.FromFile = true
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b distribution.Distribution) int { return strings.Compare(a.ID, b.ID) })
	// The digest ignores LastModified: it is the start-up time.
	canon := slices.Clone(list)
	for i := range canon {
		canon[i].LastModified = time.Time{}
	}
	data, err := json.Marshal(canon)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:16])
	_, last, err := h.store.LogBounds(ctx)
	if err != nil {
		return 0, err
	}
	if last == 0 && len(list) == 0 {
		return 0, nil
	}
	if last > 0 {
		evs, err := h.store.EventsAfter(ctx, last-1, 1)
		if err != nil {
			return 0, err
		}
		if len(evs) == 1 && evs[0].Pos == last && eventKind(evs[0].Data) == KindConfigFile {
			var prev Event
			if json.Unmarshal(evs[0].Data, &prev) == nil && prev.Hash == hash {
				return last, nil
			}
		}
	}
	return h.Publish(ctx, "file/"+hash+"/"+strconv.FormatUint(last, 10), Event{Kind: KindConfigFile, Distributions: list, Hash: hash})
}
