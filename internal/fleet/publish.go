package fleet

import (
	"context"
	"encoding/json"
	"slices"
)

// waiter is a WaitApplied call waiting for every edge to reach pos.
type waiter struct {
	pos  uint64
	done chan struct{}
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
		if len(h.edges)+len(h.remote) == 0 {
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
	return len(h.edges)+len(h.remote) == 0 || h.minAck >= pos
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
	for _, r := range h.remote {
		switch {
		case r.e.Applied < m:
			m, n = r.e.Applied, 1
		case r.e.Applied == m:
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
