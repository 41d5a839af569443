package fleet

import (
	"slices"
	"sort"
	"time"
)

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
	// Saved is Applied as the store last saved it: where a restarted
	// control plane finds the edge.
	Saved uint64 `json:"saved_position"`
	// Lag is how many logged events the edge has yet to apply.
	Lag uint64 `json:"lag"`
	// Replica is the token of the control-plane replica the edge is
	// attached to, when replicas share the store (empty otherwise); Self
	// says it is the replica answering.
	Replica string `json:"replica,omitempty"`
	Self    bool   `json:"self,omitempty"`
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
			Joined: e.Joined, InProcess: e.InProcess, Applied: e.Applied, Saved: e.saved, Lag: h.head - min(e.Applied, h.head),
			Replica: e.Hub, Self: h.notifier != nil})
	}
	for key, r := range h.remote {
		e := &r.e
		s.Edges = append(s.Edges, EdgeStatus{Name: key, Replaced: e.Replaced, Addr: e.Addr, LastSeen: e.LastSeen,
			Joined: e.Joined, InProcess: e.InProcess, Applied: e.Applied, Saved: e.Applied, Lag: h.head - min(e.Applied, h.head), Replica: e.Hub})
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
		for n, r := range h.remote {
			if r.e.Applied < t.pos {
				s.Pending = append(s.Pending, n)
			} else if _, ok := s.Applied[n]; !ok {
				s.Applied[n] = r.e.AppliedAt
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
