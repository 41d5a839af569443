package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"
)

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
	Replaced bool `json:"replaced,omitempty"`
	// Hub is the token of the replica the edge is attached to (its
	// stream, its acknowledgements), in a store shared by several; the
	// replica that attaches it writes its entry.
	Hub       string        `json:"hub,omitempty"`
	saved     uint64        // Applied as the store last saved it
	written   string        // the entry as this hub last wrote it (shared store)
	writtenAt time.Time     // when (shared store)
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
	e := &edgeState{Name: name, Addr: addr, LastSeen: now, Joined: now, InProcess: name == h.localEdge, Hub: h.id, kick: make(chan struct{})}
	h.edges[name] = e
	h.changed[name] = true
	h.recomputeMinLocked()
	return e
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
	if e == nil {
		e = h.adoptLocked(req.name) // attached to another replica until now
	}
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
		h.changed[replacedKey(req.name, e.Instance)] = true
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
	e.Hub = h.id
	e.connected++
	e.LastSeen = now
	h.advanceLocked(e, applied)
	h.changed[req.name] = true
	h.recomputeMinLocked()
	h.wakeLocked()
	h.saveSoon()
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
	if e == nil {
		e = h.adoptInstanceLocked(key, instance)
	}
	if e == nil || e.Instance != instance {
		key = replacedKey(name, instance)
		if e = h.edges[key]; e == nil {
			e = h.adoptInstanceLocked(key, instance)
		}
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
	h.changed[name] = true
	h.removed = append(h.removed, RemovedEdge{Name: name, At: h.now(), Applied: e.Applied, Reason: reason})
	if len(h.removed) > 100 {
		h.removed = h.removed[1:]
	}
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
		// Attached to another replica until now (its stream moves here
		// after it): the acknowledgement of the same process moves it.
		if e = h.adoptInstanceLocked(name, instance); e == nil {
			return 0, false
		}
		e.Hub = h.id
		h.changed[name] = true
	}
	if e.Instance != instance {
		// An entry no stream claimed yet (stored before instances were
		// recorded) is the acknowledging edge's; any other belongs to
		// another process.
		if e.Instance != "" || e.InProcess {
			return 0, false
		}
		e.Instance = instance
		h.changed[name] = true
	}
	e.LastSeen = h.now()
	old := e.Applied
	if h.advanceLocked(e, pos) {
		h.changed[name] = true
		// Only the last edge to leave the minimum moves it: O(edges) once
		// per position, not per acknowledgement.
		if old == h.minAck {
			if h.atMin--; h.atMin <= 0 {
				h.recomputeMinLocked()
				h.wakeLocked()
			}
		}
		h.saveSoon()
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

// saveParallel bounds the registry writes one save has in flight: enough
// for a store that commits concurrent writes together (the log store) to
// write a fleet's entries in a few commits, not one commit per edge.
const saveParallel = 32

// save writes the registry entries that changed since it last ran, each
// with a write of its own: PutEdge for an entry the registry holds,
// DeleteEdge for one it dropped. Entries it did not change (another
// control plane's, in a shared store) are left as they are. An entry
// whose write failed is written by the next save.
func (h *Hub) save() {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	type write struct {
		name    string
		e       *edgeState // nil: the entry left the registry
		data    []byte
		applied uint64
		err     error
	}
	now := h.now()
	h.mu.Lock()
	writes := make([]write, 0, len(h.changed))
	for name := range h.changed {
		w := write{name: name, e: h.edges[name]}
		if w.e != nil {
			w.data, _ = json.Marshal(w.e)
			w.applied = w.e.Applied
		}
		writes = append(writes, w)
	}
	clear(h.changed)
	h.mu.Unlock()
	if len(writes) == 0 {
		return
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, saveParallel)
	for i := range writes {
		w := &writes[i]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if w.e != nil {
				w.err = h.store.PutEdge(ctx, w.name, w.data)
			} else {
				w.err = h.store.DeleteEdge(ctx, w.name)
			}
		})
	}
	wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	failed := 0
	var firstErr error
	for _, w := range writes {
		switch {
		case w.err != nil:
			// Written at the next save, as the entry is by then.
			h.changed[w.name] = true
			if failed++; firstErr == nil {
				firstErr = w.err
			}
		case w.e != nil:
			w.e.saved = w.applied
			if h.notifier != nil {
				w.e.written, w.e.writtenAt = string(w.data), now
			}
		}
	}
	if failed > 0 {
		h.log.Error("saving the edge registry", "failed_entries", failed, "entries", len(writes), "err", firstErr)
	}
}
