package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"time"
)

// streamRequest is an edge asking for the stream: who it is, and where it
// is in the log. resume false means it has no state yet (a snapshot
// follows, no purge); resume with applied=N (0 included) means it has
// applied the log up to N.
// instance is the follower's instance token, local says the request comes
// from the in-process edge (over a localLink).
type streamRequest struct {
	name, addr string
	instance   string
	applied    uint64
	resume     bool
	local      bool
}

func (r streamRequest) check() error {
	if !namePattern.MatchString(r.name) {
		return errors.New("name must be 1 to 64 letters, digits, '.', '_' or '-'")
	}
	return checkInstance(r.instance)
}

func checkInstance(instance string) error {
	if !namePattern.MatchString(instance) {
		return errors.New("instance must be 1 to 64 letters, digits, '.', '_' or '-'")
	}
	return nil
}

// A streamSink is where a stream's Server-Sent Events go: an HTTP
// response for an edge in another process, a pipe for the in-process one.
type streamSink interface {
	// start is called once, before the first byte; it returns the writer
	// the events are written to (through a buffer).
	start() io.Writer
	// flush pushes what was written to the edge.
	flush() error
	// setWriteDeadline bounds how long a write may block: a stalled edge
	// must not hold its stream forever.
	setWriteDeadline(t time.Time)
}

// stream pushes the log to one edge: "hello" with the head to reach, a
// "snapshot" when the edge cannot resume, then every event after the
// edge's position, each with its position as id. The edge resumes after
// its position unless that is beyond this log (a new data directory) or
// below its trimmed start, in which case it gets a snapshot with purge.
//
// It returns an error only when it failed before writing anything (a
// NameConflictError when the name belongs to another process); once
// streaming, it returns nil when the stream ends (edge gone, kicked out
// of the registry, ctx done, StopStreams).
func (h *Hub) stream(ctx context.Context, req streamRequest, sink streamSink) error {
	first, last, err := h.store.LogBounds(ctx)
	if err != nil {
		return err
	}
	// Read the head before the distributions and resources: a change is
	// in the registry (or the resource store) before it is logged, so the
	// snapshot is never older than the head it claims.
	h.mu.Lock()
	last = min(last, h.head) // what is committed but not yet published comes later
	h.mu.Unlock()
	var snap *Snapshot
	applied := req.applied
	cur, credited := applied, applied
	switch {
	case !req.resume:
		snap = &Snapshot{Head: last}
	case applied > last || applied+1 < first:
		// The edge knows positions this log does not hold (a new data
		// directory) or missed trimmed events: start over, dropping its cache.
		snap = &Snapshot{Head: last, Purge: true}
	}
	if snap != nil {
		for _, d := range h.dists() {
			c := *d
			c.RawConfig = nil
			snap.Distributions = append(snap.Distributions, c)
		}
		for _, r := range h.resources() {
			r.Raw = nil // edges act on Config only
			snap.Resources = append(snap.Resources, r)
		}
		cur, credited = last, 0 // nothing is applied until the snapshot is
	}
	e, err := h.connect(req, credited)
	if err != nil {
		return err
	}
	defer h.disconnect(e)

	bw := bufio.NewWriterSize(sink.start(), 64<<10)
	hi, _ := json.Marshal(hello{Head: last, Snapshot: snap != nil, EdgeTimeoutMS: h.edgeTimeout.Milliseconds()})
	bw.Write(encodeFrame(nil, cur, "hello", hi))
	if snap != nil {
		data, _ := json.Marshal(snap)
		bw.Write(encodeFrame(nil, snap.Head, KindSnapshot, data))
	}
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	var batch []frame
	var deadlineSet time.Time
	for {
		h.mu.Lock()
		appended, head := h.appended, h.head
		h.mu.Unlock()
		// Each write gets at least 3/4 of the edge timeout; moving the
		// deadline on every event would cost a timer update per event.
		if now := time.Now(); now.Sub(deadlineSet) > h.edgeTimeout/4 {
			sink.setWriteDeadline(now.Add(h.edgeTimeout))
			deadlineSet = now
		}
		// Never past the published head: an event committed but not yet
		// published would be acknowledged past the head, and the
		// acknowledgement clamped away; its own Publish wakes this
		// stream again.
		for cur < head {
			if batch = h.frames.after(cur, head, 512, batch[:0]); len(batch) == 0 {
				events, err := h.store.EventsAfter(ctx, cur, 512)
				if err != nil {
					if ctx.Err() == nil {
						h.log.Error("reading the fleet log", "err", err)
					}
					return nil
				}
				batch = h.frames.add(cur, events, batch[:0])
				for len(batch) > 0 && batch[len(batch)-1].pos > head {
					batch = batch[:len(batch)-1]
				}
				if len(batch) == 0 {
					break
				}
			}
			for _, f := range batch {
				bw.Write(f.data)
			}
			cur = batch[len(batch)-1].pos
		}
		if err := bw.Flush(); err != nil {
			return nil
		}
		if err := sink.flush(); err != nil {
			return nil
		}
		select {
		case <-appended:
			// Let publishers that are already runnable log their events
			// first, so that one write carries them all (no timer: this
			// waits for nothing that is not ready to run).
			runtime.Gosched()
		case <-ping.C:
			bw.WriteString(": ping\n\n")
		case <-e.kick:
			return nil // left the registry: the edge must reconnect
		case <-ctx.Done():
			return nil
		case <-h.streamsStop:
			return nil
		}
	}
}
