package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
)

// Paths of the control plane's fleet endpoints, served beside the
// CloudFront API and authenticated like it.
const (
	PathStream = "/openfront/v1/fleet/stream"
	PathAck    = "/openfront/v1/fleet/ack"
	PathLeave  = "/openfront/v1/fleet/leave"
	PathAdmin  = "/openfront/v1/admin/edges"
	// PathAdminInvalidation is followed by {DistributionId}/{InvalidationId}.
	PathAdminInvalidation = "/openfront/v1/admin/invalidations/"
)

// HeaderHead is the response header of an accepted acknowledgement: the
// hub's head position when it accepted it. An edge that was out of touch
// is caught up once it has applied that far.
const HeaderHead = "Openfront-Fleet-Head"

// heartbeat is how often an idle stream carries a comment, so that the
// edge notices a dead connection quickly, and the longest an edge waits
// between two acknowledgements.
const heartbeat = time.Second

var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Handler returns the hub's HTTP endpoints.
func (h *Hub) Handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET "+PathStream, h.serveStream)
	m.HandleFunc("POST "+PathAck, h.serveAck)
	m.HandleFunc("POST "+PathLeave, h.serveLeave)
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
//
// The query says where the edge is: no applied parameter means it has no
// state yet (a snapshot follows, no purge); applied=N (0 included) means
// it has applied the log up to N, and resumes after it unless N is beyond
// this log (a new data directory) or below its trimmed start, in which
// case it gets a snapshot with purge.
func (h *Hub) serveStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := streamRequest{name: q.Get("name"), addr: q.Get("addr"), instance: q.Get("instance"), resume: q.Has("applied")}
	if err := req.check(); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.resume {
		var err error
		if req.applied, err = strconv.ParseUint(q.Get("applied"), 10, 64); err != nil {
			jsonError(w, http.StatusBadRequest, "applied must be a log position")
			return
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		jsonError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{})
	sink := &httpSink{w: w, flusher: flusher, rc: rc}
	if err := h.stream(r.Context(), req, sink); err != nil {
		status := http.StatusInternalServerError
		if _, ok := errors.AsType[*NameConflictError](err); ok {
			status = http.StatusConflict
		}
		jsonError(w, status, err.Error())
	}
}

// httpSink is a stream's sink on an HTTP response: Server-Sent Events.
type httpSink struct {
	w       http.ResponseWriter
	flusher http.Flusher
	rc      *http.ResponseController
}

func (s *httpSink) start() io.Writer {
	s.w.Header().Set("Content-Type", "text/event-stream")
	s.w.Header().Set("Cache-Control", "no-store")
	return s.w
}

func (s *httpSink) flush() error {
	s.flusher.Flush()
	return nil
}

func (s *httpSink) setWriteDeadline(t time.Time) { s.rc.SetWriteDeadline(t) }

func (h *Hub) serveAck(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pos, err := strconv.ParseUint(q.Get("pos"), 10, 64)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "pos must be a log position")
		return
	}
	name, instance := q.Get("name"), q.Get("instance")
	if err := checkInstance(instance); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	head, ok := h.ack(name, instance, pos)
	if !ok {
		jsonError(w, http.StatusConflict, "edge "+name+" (instance "+instance+") is not in the registry: reconnect the stream")
		return
	}
	w.Header()[HeaderHead] = []string{strconv.FormatUint(head, 10)}
	w.WriteHeader(http.StatusNoContent)
}

// serveLeave takes a stopping edge out of the registry: 204 whether or not
// the registry held that instance of it (leaving is idempotent).
func (h *Hub) serveLeave(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := streamRequest{name: q.Get("name"), instance: q.Get("instance")}
	if err := req.check(); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.leave(req.name, req.instance)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Hub) serveAdmin(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, h.Status())
}

func (h *Hub) serveAdminInvalidation(w http.ResponseWriter, r *http.Request) {
	key := invalidationKey(invalidation.Invalidation{DistributionID: r.PathValue("dist"), ID: r.PathValue("id")})
	s, ok := h.EventStatus(key)
	if !ok {
		jsonError(w, http.StatusNotFound, "no recent invalidation "+r.PathValue("id")+" of distribution "+r.PathValue("dist")+" in the fleet log")
		return
	}
	writeJSON(w, s)
}

// frame is one event encoded as Server-Sent Events.
type frame struct {
	pos  uint64
	data []byte
}

// encodeFrame appends the SSE frame of an event to buf.
func encodeFrame(buf []byte, pos uint64, kind string, data []byte) []byte {
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 { // faster than ContainsAny
		// A line break would end the data field: JSON needs none.
		var c bytes.Buffer
		if json.Compact(&c, data) == nil {
			data = c.Bytes()
		}
		data = bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r"), nil), []byte("\n"), nil)
	}
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, pos, 10)
	buf = append(buf, "\nevent: "...)
	buf = append(buf, kind...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	return append(buf, "\n\n"...)
}

// kindPrefix is how every logged event starts (Kind is Event's first field).
var kindPrefix = []byte(`{"kind":"`)

// eventKind reads the kind of a logged event without decoding it all.
func eventKind(data []byte) string {
	if rest, ok := bytes.CutPrefix(data, kindPrefix); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 && validKind(rest[:i]) {
			return string(rest[:i])
		}
	}
	var ev struct {
		Kind string `json:"kind"`
	}
	json.Unmarshal(data, &ev)
	if !validKind([]byte(ev.Kind)) {
		return "unknown"
	}
	return ev.Kind
}

func validKind(k []byte) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxFrames is how many recent events' frames the hub keeps encoded.
const maxFrames = 4096

// frameCache holds the SSE frames of recent events, encoded once and
// shared by every stream: a stream that is caught up neither reads the
// store nor decodes anything to send an event.
type frameCache struct {
	mu sync.Mutex
	// Every logged event with a position in (from, to] is in frames.
	from, to uint64  // guarded by mu
	frames   []frame // ascending positions; guarded by mu
}

// reset empties the cache, whose next event follows pos.
func (c *frameCache) reset(pos uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.from, c.to, c.frames = pos, pos, nil
}

// after appends to buf the frames of the events after cur, up to head and
// at most limit of them, if the cache holds them.
func (c *frameCache) after(cur, head uint64, limit int, buf []frame) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur < c.from || cur >= c.to {
		return buf
	}
	i := sort.Search(len(c.frames), func(i int) bool { return c.frames[i].pos > cur })
	for ; i < len(c.frames) && c.frames[i].pos <= head && limit > 0; i++ {
		buf = append(buf, c.frames[i])
		limit--
	}
	return buf
}

// add encodes events — every event of the log after `after`, in order, up
// to some position — appends their frames to buf, and caches them if
// they continue the cache.
func (c *frameCache) add(after uint64, events []StoredEvent, buf []frame) []frame {
	start := len(buf)
	buf = slices.Grow(buf, len(events))
	// The frames share one allocation, sized for the usual event (no line
	// break to strip): one per run of events rather than one per frame.
	size := 0
	for _, ev := range events {
		size += len(ev.Data) + 64
	}
	data := make([]byte, 0, size)
	for _, ev := range events {
		from := len(data)
		data = encodeFrame(data, ev.Pos, eventKind(ev.Data), ev.Data)
		buf = append(buf, frame{ev.Pos, data[from:len(data):len(data)]})
	}
	if len(events) == 0 {
		return buf
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if after != c.to {
		return buf
	}
	c.frames = append(c.frames, buf[start:]...)
	c.to = events[len(events)-1].Pos
	if len(c.frames) > maxFrames+maxFrames/4 {
		drop := len(c.frames) - maxFrames
		c.from = c.frames[drop-1].pos
		c.frames = slices.Delete(c.frames, 0, drop)
	}
	return buf
}
