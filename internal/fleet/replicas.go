package fleet

// Several replicas of the control plane on one shared store (a Store that
// implements eventlog.Notifier): each hub streams the whole log to the
// edges attached to it and writes their registry entries; it learns of
// the events and entries the other replicas write from the store's
// wake-ups, and counts every entry of the registry, whichever replica
// wrote it, when it decides that every edge applied a position.
//
// Who writes what:
//   - An edge's entry is written by the replica it is attached to (its
//     stream or its last acknowledgement went there; Hub names it): at
//     once when the edge attaches, within ackFlush of an acknowledgement
//     that moves its position, and at least every quarter of the edge
//     timeout while it acknowledges, so that the other replicas see it
//     alive.
//   - Any replica removes an entry that has not changed for the edge
//     timeout (counted on its own clock from when it saw the entry
//     change: no two replicas' clocks are compared). A replica's death
//     removes nothing: its edges attach to another replica, which
//     writes their entries from then on.
//   - The entries of other processes' in-process edges are never removed
//     at start: each is the business of the replica that runs it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
)

// ackFlush is the longest a replica on a shared store holds an
// acknowledgement that moved an edge's position before writing it to
// the registry, where the other replicas count it: entries that change
// meanwhile are written together.
const ackFlush = 20 * time.Millisecond

// remoteEdge is an entry of the shared registry that another replica
// writes.
type remoteEdge struct {
	e         edgeState // as stored
	raw       string    // the stored entry, to tell a change
	changedAt time.Time // when this hub saw the entry change (its clock)
}

func newToken() string {
	var token [16]byte
	rand.Read(token[:])
	return hex.EncodeToString(token[:])
}

// loadShared sorts the stored registry at start: the entry of this
// hub's in-process edge is its own; every other one is another
// replica's (or, for an edge attached to a replica that is gone, it is
// until the edge attaches here or stays silent for the edge timeout,
// counted from now).
func (h *Hub) loadShared(stored map[string][]byte, now time.Time) {
	for name, data := range stored {
		var e edgeState
		if err := json.Unmarshal(data, &e); err != nil {
			h.log.Warn("ignoring an unreadable edge record", "name", name, "err", err)
			continue
		}
		if name == h.localEdge && h.localEdge != "" {
			e.LastSeen, e.saved, e.kick, e.Hub = now, e.Applied, make(chan struct{}), h.id
			if !e.InProcess {
				// Taken by this run's in-process edge: see NewHub.
				e.Replaced = true
				h.edges[replacedKey(name, e.Instance)] = &e
				h.changed[name], h.changed[replacedKey(name, e.Instance)] = true, true
				continue
			}
			h.edges[name] = &e
			h.changed[name] = true
			continue
		}
		h.remote[name] = &remoteEdge{e: e, raw: string(data), changedAt: now}
	}
}

// adoptLocked moves the entry of the edge called name from the other
// replicas' to this hub's: the edge attaches here. It returns nil when
// no other replica's entry has that name.
func (h *Hub) adoptLocked(name string) *edgeState {
	r := h.remote[name]
	if r == nil {
		return nil
	}
	delete(h.remote, name)
	e := r.e
	e.LastSeen, e.saved, e.kick = h.now(), e.Applied, make(chan struct{})
	h.edges[name] = &e
	h.changed[name] = true
	return &e
}

// adoptInstanceLocked is adoptLocked of an entry that process instance
// holds: an acknowledgement or a leave moves only its own process's entry.
func (h *Hub) adoptInstanceLocked(name, instance string) *edgeState {
	if r := h.remote[name]; r == nil || r.e.Instance != instance {
		return nil
	}
	return h.adoptLocked(name)
}

// saveSoon asks the saver to write the changed entries within ackFlush
// (shared store; a hub alone saves on its sweep). Called with h.mu held
// or not.
func (h *Hub) saveSoon() {
	if h.notifier == nil {
		return
	}
	select {
	case h.saveWake <- struct{}{}:
	default:
	}
}

// saver writes the registry soon after an edge attaches or moves its
// position, at most once per ackFlush.
func (h *Hub) saver() {
	defer h.bg.Done()
	t := time.NewTimer(ackFlush)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-h.saveWake:
		}
		h.save()
		t.Reset(ackFlush)
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
	}
}

// watch follows the store's wake-ups until the hub closes.
func (h *Hub) watch(logCh, regCh <-chan struct{}) {
	defer h.bg.Done()
	for {
		select {
		case <-h.stop:
			return
		case <-logCh:
			h.refreshHead()
		case <-regCh:
			h.refreshRegistry()
		}
	}
}

// refreshHead learns the head of the shared log: events other replicas
// appended reach this hub's streams.
func (h *Hub) refreshHead() {
	_, last, err := h.store.LogBounds(context.Background())
	if err != nil {
		h.log.Error("reading the fleet log's head", "err", err)
		return
	}
	h.mu.Lock()
	h.learnHeadLocked(last)
	h.mu.Unlock()
}

// learnHeadLocked moves the head to last, logged by any replica, and
// wakes the streams (which read the events from the log) and waiters.
func (h *Hub) learnHeadLocked(last uint64) {
	if last <= h.head {
		return
	}
	h.head = last
	if len(h.edges)+len(h.remote) == 0 {
		h.minAck, h.atMin = h.head, 0
	}
	close(h.appended)
	h.appended = make(chan struct{})
	h.wakeLocked()
}

// refreshRegistry reads the shared registry: the entries of the other
// replicas' edges (their positions count for WaitApplied), this hub's
// edges that attached to another replica (they become its), and this
// hub's entries another replica removed.
func (h *Hub) refreshRegistry() {
	// No save is under way: every entry this hub wrote is in what it
	// reads, or was removed by another replica.
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	stored, err := h.store.Edges(context.Background())
	if err != nil {
		h.log.Error("reading the fleet registry", "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	remote := make(map[string]*remoteEdge, len(h.remote))
	for name, data := range stored {
		if local := h.edges[name]; local != nil {
			if local.written == string(data) || local.connected > 0 || (name == h.localEdge && h.localEdge != "") {
				continue // this hub's: its next save writes it
			}
			var e edgeState
			if json.Unmarshal(data, &e) != nil || e.Hub == h.id || e.Hub == "" {
				continue
			}
			// Attached to another replica now.
			delete(h.edges, name)
			kickLocked(local)
		}
		r := h.remote[name]
		if r == nil || r.raw != string(data) {
			var e edgeState
			if err := json.Unmarshal(data, &e); err != nil {
				continue
			}
			r = &remoteEdge{e: e, raw: string(data), changedAt: now}
		}
		remote[name] = r
	}
	for name, local := range h.edges {
		if _, ok := stored[name]; ok || h.changed[name] || local.written == "" {
			continue
		}
		if local.connected > 0 || (name == h.localEdge && h.localEdge != "") {
			h.changed[name] = true // attached here: it stays
			continue
		}
		// Removed by another replica (silent), or left through it.
		delete(h.edges, name)
		kickLocked(local)
	}
	h.remote = remote
	h.recomputeMinLocked()
	h.wakeLocked()
	h.saveSoon()
}

// sweepShared keeps the shared registry: it writes the entries of this
// hub's edges that acknowledged since it last wrote them (at least every
// quarter of the edge timeout, so that the other replicas see them
// alive), and removes other replicas' entries unchanged for the edge
// timeout, after reading the registry again to make sure.
func (h *Hub) sweepShared(now time.Time) {
	h.mu.Lock()
	stale := 0
	for name, e := range h.edges {
		if e.LastSeen.After(e.writtenAt) && now.Sub(e.writtenAt) > h.edgeTimeout/4 {
			h.changed[name] = true
		}
	}
	for _, r := range h.remote {
		if now.Sub(r.changedAt) > h.edgeTimeout {
			stale++
		}
	}
	h.mu.Unlock()
	if stale == 0 {
		return
	}
	h.refreshRegistry()
	h.mu.Lock()
	var gone []string
	for name, r := range h.remote {
		if now.Sub(r.changedAt) > h.edgeTimeout {
			gone = append(gone, name)
			delete(h.remote, name)
			h.removed = append(h.removed, RemovedEdge{Name: name, At: now, Applied: r.e.Applied,
				Reason: "silent for longer than the edge timeout (" + h.edgeTimeout.String() + "), attached to another replica"})
			if len(h.removed) > 100 {
				h.removed = h.removed[1:]
			}
			h.log.Warn("edge left the registry: silent for longer than the edge timeout (attached to another replica)",
				"edge", name, "timeout", h.edgeTimeout, "applied", r.e.Applied, "head", h.head)
		}
	}
	h.recomputeMinLocked()
	h.wakeLocked()
	h.mu.Unlock()
	for _, name := range gone {
		if err := h.store.DeleteEdge(context.Background(), name); err != nil {
			h.log.Error("removing a silent edge from the registry", "edge", name, "err", err)
		}
	}
}
