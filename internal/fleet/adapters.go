package fleet

import (
	"cmp"
	"context"
	"slices"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

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
