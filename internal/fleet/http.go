package fleet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// Paths of the control plane's fleet endpoints, served beside the
// CloudFront API and authenticated like it.
const (
	PathStream = "/openfront/v1/fleet/stream"
	PathAck    = "/openfront/v1/fleet/ack"
	PathAdmin  = "/openfront/v1/admin/edges"
	// PathAdminInvalidation is followed by {DistributionId}/{InvalidationId}.
	PathAdminInvalidation = "/openfront/v1/admin/invalidations/"
)

// heartbeat is how often an idle stream carries a comment, so both ends
// notice a dead connection quickly.
const heartbeat = time.Second

var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Handler returns the hub's HTTP endpoints.
func (h *Hub) Handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET "+PathStream, h.serveStream)
	m.HandleFunc("POST "+PathAck, h.serveAck)
	m.HandleFunc("GET "+PathAdmin, h.serveAdmin)
	m.HandleFunc("GET "+PathAdminInvalidation+"{dist}/{id}", h.serveAdminInvalidation)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotFound, "no such fleet endpoint: "+r.Method+" "+r.URL.Path)
	})
	return m
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// serveStream pushes the log to one edge as Server-Sent Events: "hello"
// with the head to reach, a "snapshot" when the edge cannot resume, then
// every event after the edge's position, each with its position as id.
func (h *Hub) serveStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if !namePattern.MatchString(name) {
		jsonError(w, http.StatusBadRequest, "name must be 1 to 64 letters, digits, '.', '_' or '-'")
		return
	}
	applied, err := strconv.ParseUint(q.Get("applied"), 10, 64)
	if q.Get("applied") != "" && err != nil {
		jsonError(w, http.StatusBadRequest, "applied must be a log position")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		jsonError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	ctx := r.Context()
	first, last, err := h.store.LogBounds(ctx)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	// Read the head before the distributions: a distribution change is in
	// the registry before it is logged, so the snapshot is never older
	// than the head it claims.
	h.mu.Lock()
	last = min(last, h.head) // what is committed but not yet published comes later
	h.mu.Unlock()
	var snap *Snapshot
	cur := applied
	switch {
	case applied == 0:
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
		cur = last
	}
	credited := applied
	if snap != nil {
		credited = 0 // nothing is applied until the snapshot is
	}
	h.connect(name, q.Get("addr"), credited)
	defer h.disconnect(name)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriterSize(w, 64<<10)
	send := func(id uint64, kind string, data []byte) {
		fmt.Fprintf(bw, "id: %d\nevent: %s\ndata: %s\n\n", id, kind, data)
	}
	hi, _ := json.Marshal(hello{Head: last, Snapshot: snap != nil})
	send(cur, "hello", hi)
	if snap != nil {
		data, _ := json.Marshal(snap)
		send(snap.Head, KindSnapshot, data)
	}
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	for {
		h.mu.Lock()
		appended, head := h.appended, h.head
		h.mu.Unlock()
		events, err := h.store.EventsAfter(ctx, cur, 512)
		if err != nil {
			h.log.Error("reading the fleet log", "err", err)
			return
		}
		for _, ev := range events {
			// An event committed but not yet published would be
			// acknowledged past the head, and the acknowledgement clamped
			// away: its own Publish wakes this stream again.
			if ev.Pos > head {
				break
			}
			var kind struct {
				Kind string `json:"kind"`
			}
			json.Unmarshal(ev.Data, &kind)
			send(ev.Pos, kind.Kind, ev.Data)
			cur = ev.Pos
		}
		if err := bw.Flush(); err != nil {
			return
		}
		flusher.Flush()
		if len(events) == 512 {
			continue
		}
		select {
		case <-appended:
		case <-ping.C:
			if _, err := bw.WriteString(": ping\n\n"); err != nil {
				return
			}
			h.seen(name)
		case <-ctx.Done():
			return
		case <-h.streamsStop:
			return
		}
	}
}

func (h *Hub) serveAck(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pos, err := strconv.ParseUint(q.Get("pos"), 10, 64)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "pos must be a log position")
		return
	}
	if !h.ack(q.Get("name"), pos) {
		jsonError(w, http.StatusConflict, "edge "+q.Get("name")+" is not in the registry: reconnect the stream")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Hub) serveAdmin(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, h.Status())
}

func (h *Hub) serveAdminInvalidation(w http.ResponseWriter, r *http.Request) {
	key := "inv/" + r.PathValue("dist") + "/" + r.PathValue("id")
	s, ok := h.EventStatus(key)
	if !ok {
		jsonError(w, http.StatusNotFound, "no recent invalidation "+r.PathValue("id")+" of distribution "+r.PathValue("dist")+" in the fleet log")
		return
	}
	writeJSON(w, s)
}
