package fleet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/store/memory"
)

func TestWaitAppliedWithoutEdges(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	pos := publish(t, h, "I1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := h.WaitApplied(ctx, pos); err != nil {
		t.Fatalf("no edge to wait for, yet: %v", err)
	}
}

// blocked reports whether WaitApplied(pos) is still waiting after a
// tenth of a second (a correct hub cannot return nil early).
func blocked(t *testing.T, h *fleet.Hub, pos uint64) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := h.WaitApplied(ctx, pos)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied: %v", err)
	}
	return err != nil
}

func TestWaitAppliedWaitsForEveryEdge(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	h.Expect("a", "http://a.test")
	h.Expect("b", "http://b.test")
	pos := publish(t, h, "I1")
	done := make(chan error, 1)
	go func() { done <- h.WaitApplied(context.Background(), pos) }()

	if !blocked(t, h, pos) {
		t.Fatal("WaitApplied returned before any edge acknowledged")
	}
	if code := ack(t, h, "a", fmt.Sprint(pos)); code != http.StatusNoContent {
		t.Fatalf("ack: %d", code)
	}
	if !blocked(t, h, pos) {
		t.Fatal("WaitApplied returned with edge b yet to acknowledge")
	}
	select {
	case err := <-done:
		t.Fatalf("WaitApplied returned (%v) with edge b yet to acknowledge", err)
	default:
	}
	if s, ok := h.EventStatus("inv/" + distID + "/I1"); !ok || s.Position != pos || len(s.Applied) != 1 || s.Applied["a"].IsZero() ||
		len(s.Pending) != 1 || s.Pending[0] != "b" {
		t.Errorf("event status: %+v %v", s, ok)
	}
	// An acknowledgement below the edge's position changes nothing.
	ack(t, h, "b", "0")
	if !blocked(t, h, pos) {
		t.Fatal("WaitApplied returned on an acknowledgement of position 0")
	}
	ack(t, h, "b", fmt.Sprint(pos))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("WaitApplied still waiting once every edge acknowledged")
	}
	if s, _ := h.EventStatus("inv/" + distID + "/I1"); len(s.Applied) != 2 || len(s.Pending) != 0 {
		t.Errorf("event status: %+v", s)
	}
	// Positions already applied do not wait.
	if blocked(t, h, pos) || blocked(t, h, 0) {
		t.Error("WaitApplied waits for a position every edge applied")
	}
	st := h.Status()
	if st.Head != pos || len(st.Edges) != 2 {
		t.Fatalf("status: %+v", st)
	}
	for _, e := range st.Edges {
		if e.Applied != pos || e.Lag != 0 {
			t.Errorf("edge %+v", e)
		}
	}
}

func TestAckRules(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	h.Expect("a", "")
	pos := publish(t, h, "I1")
	if code := ack(t, h, "stranger", "1"); code != http.StatusConflict {
		t.Errorf("ack from an edge not in the registry: %d, want 409", code)
	}
	if code := ack(t, h, "a", "x"); code != http.StatusBadRequest {
		t.Errorf("ack of a malformed position: %d, want 400", code)
	}
	// An edge cannot have applied what was never logged.
	if code := ack(t, h, "a", "99"); code != http.StatusNoContent {
		t.Fatalf("ack: %d", code)
	}
	if e, _ := edgeOf(h.Status(), "a"); e.Applied != pos || e.Lag != 0 {
		t.Errorf("after an ack beyond the head: %+v", e)
	}
	next := publish(t, h, "I2")
	if !blocked(t, h, next) {
		t.Error("an ack beyond the head acknowledged an event logged later")
	}
	if e, _ := edgeOf(h.Status(), "a"); e.Lag != 1 {
		t.Errorf("lag %d, want 1", e.Lag)
	}
}

func TestWaitAppliedStopsWithContext(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	h.Expect("a", "")
	pos := publish(t, h, "I1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.WaitApplied(ctx, pos) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitApplied: %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("WaitApplied ignores its context")
	}
}

func TestEdgeTimeoutEndsTheWait(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{EdgeTimeout: 100 * time.Millisecond})
	h.Expect("gone", "")
	pos := publish(t, h, "I1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := h.WaitApplied(ctx, pos); err != nil {
		t.Fatalf("WaitApplied still waiting for an edge silent for longer than the timeout: %v", err)
	}
	st := h.Status()
	if len(st.Edges) != 0 || len(st.Removed) != 1 || st.Removed[0].Name != "gone" || !strings.Contains(st.Removed[0].Reason, "edge timeout") {
		t.Errorf("status: %+v", st)
	}
	if code := ack(t, h, "gone", fmt.Sprint(pos)); code != http.StatusConflict {
		t.Errorf("ack from a removed edge: %d, want 409", code)
	}
}

// An edge that acknowledges stays in the registry however long its stream
// is idle: it acknowledges at least every heartbeat (here a quarter of the
// edge timeout, which the hub's hello tells it).
func TestAcknowledgingEdgeStays(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs in the full suite")
	}
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 2 * time.Second})
	e := startFollower(t, r.srv.URL, "live", 10*time.Second)
	waitFresh(t, e, true)
	if got := e.f.MaxStaleness(); got != time.Second {
		t.Errorf("max staleness %v, want 1s: half the hub's edge timeout", got)
	}
	pos := publish(t, r.hub, "I1")
	waitAcked(t, r.hub, "live", pos)
	// Several edge timeouts later, still in the registry: a negative (the
	// edge is never removed), so it is watched for a span of time.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := edgeOf(r.hub.Status(), "live"); !ok {
			t.Fatalf("an edge that acknowledges left the registry: %+v", r.hub.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := r.hub.Status(); len(st.Removed) != 0 {
		t.Errorf("removed: %+v", st.Removed)
	}
}

// An edge with an open stream that acknowledges nothing leaves the
// registry after the edge timeout, and its stream is closed.
func TestSilentStreamLeavesAndIsClosed(t *testing.T) {
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 200 * time.Millisecond})
	s := openStream(t, r.srv.URL, "mute", "")
	s.next() // hello
	s.next() // snapshot
	pos := publish(t, r.hub, "I1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.hub.WaitApplied(ctx, pos); err != nil {
		t.Fatalf("still waiting for an edge that acknowledged nothing: %v", err)
	}
	st := r.hub.Status()
	if _, ok := edgeOf(st, "mute"); ok || len(st.Removed) != 1 || st.Removed[0].Name != "mute" {
		t.Errorf("status %+v", st)
	}
	// The hub ends the dropped edge's stream, so that it reconnects.
	timeout := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
			continue
		case <-timeout:
			t.Fatal("the stream of an edge that left the registry is still open")
		}
	}
}

// An edge that keeps its stream open but reads and acknowledges nothing
// (a stopped process, a silent network partition) must leave the registry
// after the edge timeout like a disconnected one.
func TestStalledEdgeLeaves(t *testing.T) {
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s?name=stalled&instance=test-stalled&applied=0 HTTP/1.1\r\nHost: hub\r\n\r\n", fleet.PathStream)
	eventually(t, "registering the stalled edge", func() bool {
		_, ok := edgeOf(r.hub.Status(), "stalled")
		return ok
	})
	pos := publish(t, r.hub, "I1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.hub.WaitApplied(ctx, pos); err != nil {
		t.Fatalf("still waiting for an edge that acknowledged nothing for 15s (edge timeout 200ms): %v\n%+v", err, r.hub.Status())
	}
}

func TestPublishIsIdempotent(t *testing.T) {
	store := memory.New()
	h := newHub(t, store, fleet.HubConfig{})
	p1 := publish(t, h, "I1")
	p2 := publish(t, h, "I2")
	other := inv("I3")
	again, err := h.Publish(context.Background(), "inv/"+distID+"/I1", fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &other})
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 || again != p1 {
		t.Fatalf("positions %d, %d, then %d for the first key again", p1, p2, again)
	}
	if h.Status().Head != p2 {
		t.Errorf("head %d, want %d", h.Status().Head, p2)
	}
	_, last, _ := store.LogBounds(context.Background())
	evs, _ := store.EventsAfter(context.Background(), 0, 100)
	if last != p2 || len(evs) != 2 {
		t.Fatalf("log: last %d, %d events", last, len(evs))
	}
	var ev fleet.Event
	if err := json.Unmarshal(evs[0].Data, &ev); err != nil || ev.Invalidation == nil || ev.Invalidation.ID != "I1" {
		t.Errorf("first event %s (%v): the second publish of its key replaced it", evs[0].Data, err)
	}
}

func decodeHello(t *testing.T, ev sseEvent) (head uint64, snapshot bool) {
	t.Helper()
	if ev.kind != "hello" {
		t.Fatalf("first event %v, want hello", ev)
	}
	var h struct {
		Head     uint64 `json:"head"`
		Snapshot bool   `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(ev.data), &h); err != nil {
		t.Fatal(err)
	}
	return h.Head, h.Snapshot
}

func decodeSnapshot(t *testing.T, ev sseEvent) fleet.Snapshot {
	t.Helper()
	if ev.kind != fleet.KindSnapshot {
		t.Fatalf("event %v, want a snapshot", ev)
	}
	var s fleet.Snapshot
	if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
		t.Fatal(err)
	}
	if ev.id != s.Head {
		t.Errorf("snapshot id %d, head %d", ev.id, s.Head)
	}
	return s
}

// expectInvalidations reads events with the positions and invalidation Ids.
func expectInvalidations(t *testing.T, s *stream, pos []uint64, ids []string) {
	t.Helper()
	for i := range pos {
		ev := s.next()
		var e fleet.Event
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			t.Fatal(err)
		}
		if ev.id != pos[i] || ev.kind != fleet.KindInvalidation || e.Invalidation == nil || e.Invalidation.ID != ids[i] {
			t.Fatalf("event %v, want %s at position %d", ev, ids[i], pos[i])
		}
	}
}

func TestStreamStartsWithSnapshot(t *testing.T) {
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 7 * time.Second})
	publish(t, r.hub, "I1")
	p2 := publish(t, r.hub, "I2")
	// No applied position: an edge with no state.
	s := openStream(t, r.srv.URL, "new", "")
	hello := s.next()
	head, snap := decodeHello(t, hello)
	if head != p2 || !snap {
		t.Fatalf("hello head %d snapshot %v, want %d", head, snap, p2)
	}
	var hi struct {
		EdgeTimeoutMS int64 `json:"edge_timeout_ms"`
	}
	if json.Unmarshal([]byte(hello.data), &hi); hi.EdgeTimeoutMS != 7000 {
		t.Errorf("hello %s: want the edge timeout, 7000 ms", hello.data)
	}
	sn := decodeSnapshot(t, s.next())
	if sn.Head != p2 || sn.Purge || len(sn.Distributions) != 1 || sn.Distributions[0].ID != distID || sn.Distributions[0].RawConfig != nil ||
		!sn.Distributions[0].FromFile {
		t.Fatalf("snapshot %+v", sn)
	}
	// Then what is logged next, not what the snapshot covers.
	p3 := publish(t, r.hub, "I3")
	expectInvalidations(t, s, []uint64{p3}, []string{"I3"})
	s.cancel()

	// applied=0 is a position: the edge applied nothing of this log, and
	// gets all of it.
	s = openStream(t, r.srv.URL, "at-zero", "applied=0")
	if head, snap := decodeHello(t, s.next()); head != p3 || snap {
		t.Fatalf("applied=0: hello head %d snapshot %v, want %d and no snapshot", head, snap, p3)
	}
	expectInvalidations(t, s, []uint64{1, 2, 3}, []string{"I1", "I2", "I3"})
}

// An edge at position 0 of an empty log resumes from it; one at 0 of a
// trimmed log missed events, and starts over with a purge.
func TestStreamAtPositionZero(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	s := openStream(t, r.srv.URL, "empty", "applied=0")
	if head, snap := decodeHello(t, s.next()); head != 0 || snap {
		t.Fatalf("empty log: hello head %d snapshot %v", head, snap)
	}
	p1 := publish(t, r.hub, "I1")
	expectInvalidations(t, s, []uint64{p1}, []string{"I1"})
	p2 := publish(t, r.hub, "I2")
	if err := r.store.TrimEvents(context.Background(), p2); err != nil {
		t.Fatal(err)
	}
	s = openStream(t, r.srv.URL, "trimmed", "applied=0")
	if head, snap := decodeHello(t, s.next()); head != p2 || !snap {
		t.Fatalf("trimmed log: hello head %d snapshot %v", head, snap)
	}
	if sn := decodeSnapshot(t, s.next()); !sn.Purge {
		t.Fatalf("snapshot %+v, want a purge", sn)
	}
	if code := streamStatus(t, r.srv.URL, "applied=-1"); code != http.StatusBadRequest {
		t.Errorf("applied=-1: %d, want 400", code)
	}
}

// streamStatus opens a stream with query and returns the status.
func streamStatus(t *testing.T, base, query string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+fleet.PathStream+"?name=x&instance=test-x&"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStreamResumesAfterPosition(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	p1, p2, p3 := publish(t, r.hub, "I1"), publish(t, r.hub, "I2"), publish(t, r.hub, "I3")
	s := openStream(t, r.srv.URL, "back", fmt.Sprint("applied=", p1))
	hello := s.next()
	if head, snap := decodeHello(t, hello); head != p3 || snap || hello.id != p1 {
		t.Fatalf("hello %v", hello)
	}
	expectInvalidations(t, s, []uint64{p2, p3}, []string{"I2", "I3"})
	p4 := publish(t, r.hub, "I4")
	expectInvalidations(t, s, []uint64{p4}, []string{"I4"})
	// Publishing a key again does not send its event again.
	publish(t, r.hub, "I2")
	p5 := publish(t, r.hub, "I5")
	expectInvalidations(t, s, []uint64{p5}, []string{"I5"})
	if e, _ := edgeOf(r.hub.Status(), "back"); e.Applied != p1 || !e.Connected {
		t.Errorf("registry: %+v (the stream's applied position counts as acknowledged)", e)
	}
}

func TestStreamPurgesBeyondTheLog(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	publish(t, r.hub, "I1")
	p2 := publish(t, r.hub, "I2")
	// An edge that applied positions this log never held (the control
	// plane's data was replaced).
	s := openStream(t, r.srv.URL, "ahead", "applied=7")
	if head, snap := decodeHello(t, s.next()); head != p2 || !snap {
		t.Fatalf("hello head %d snapshot %v", head, snap)
	}
	if sn := decodeSnapshot(t, s.next()); !sn.Purge || sn.Head != p2 || len(sn.Distributions) != 1 {
		t.Fatalf("snapshot %+v, want a purge at %d", sn, p2)
	}
	p3 := publish(t, r.hub, "I3")
	expectInvalidations(t, s, []uint64{p3}, []string{"I3"})
}

// An edge whose position is beyond the log has applied nothing of this
// log: the hub must not count it as having applied anything before it
// acknowledges the snapshot.
func TestStreamBeyondTheLogIsNotApplied(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	publish(t, r.hub, "I1")
	p2 := publish(t, r.hub, "I2")
	s := openStream(t, r.srv.URL, "ahead", "applied=7")
	s.next()
	if e, ok := edgeOf(r.hub.Status(), "ahead"); !ok || e.Applied != 0 || e.Lag != p2 {
		t.Errorf("before acknowledging the purge snapshot: %+v", e)
	}
	if !blocked(t, r.hub, p2) {
		t.Error("WaitApplied does not wait for an edge that has yet to load the snapshot")
	}
}

func TestStreamPurgesBelowTheLog(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	var pos []uint64
	for i := range 5 {
		pos = append(pos, publish(t, r.hub, fmt.Sprint("I", i+1)))
	}
	// Trimmed: the log starts at position 4.
	if err := r.store.TrimEvents(context.Background(), pos[3]); err != nil {
		t.Fatal(err)
	}
	// Position 3 can resume: 4 is the next it needs.
	s := openStream(t, r.srv.URL, "just-in-time", fmt.Sprint("applied=", pos[2]))
	if _, snap := decodeHello(t, s.next()); snap {
		t.Fatal("an edge that can resume gets a snapshot")
	}
	expectInvalidations(t, s, pos[3:], []string{"I4", "I5"})
	// Position 2 missed a trimmed event: snapshot and purge.
	s = openStream(t, r.srv.URL, "too-late", fmt.Sprint("applied=", pos[1]))
	if head, snap := decodeHello(t, s.next()); head != pos[4] || !snap {
		t.Fatalf("hello head %d snapshot %v", head, snap)
	}
	if sn := decodeSnapshot(t, s.next()); !sn.Purge || sn.Head != pos[4] {
		t.Fatalf("snapshot %+v, want a purge at %d", sn, pos[4])
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestHubTrimsWhatEveryEdgeApplied(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	// (An edge timeout of an hour: the slow edge acknowledges nothing
	// while the clock jumps.)
	r := newRig(t, fleet.HubConfig{Now: clock.Now, Retain: 1, EdgeTimeout: time.Hour})
	var pos []uint64
	for i := range 6 {
		pos = append(pos, publish(t, r.hub, fmt.Sprint("I", i+1)))
	}
	// The slowest edge applied position 4; it stays connected.
	s := openStream(t, r.srv.URL, "slow", fmt.Sprint("applied=", pos[3]))
	s.next()
	eventually(t, "the slow edge in the registry", func() bool {
		e, ok := edgeOf(r.hub.Status(), "slow")
		return ok && e.Applied == pos[3]
	})
	clock.advance(2 * time.Minute)
	// Kept: the events the slow edge still needs, and Retain=1 more.
	eventually(t, "trimming the log", func() bool {
		first, _, _ := r.store.LogBounds(context.Background())
		return first == pos[2]
	})
	clock.advance(2 * time.Minute)
	if !blocked(t, r.hub, pos[5]) {
		t.Fatal("the slow edge left the registry")
	}
	if first, _, _ := r.store.LogBounds(context.Background()); first != pos[2] {
		t.Fatalf("log trimmed to %d, beyond what the slow edge needs", first)
	}
	expectInvalidations(t, s, pos[4:], []string{"I5", "I6"})
}

func TestHubRestoresRegistry(t *testing.T) {
	store := memory.New()
	h1, err := fleet.NewHub(context.Background(), fleet.HubConfig{Store: store, Logger: quiet,
		Distributions: func() []*distribution.Distribution { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	h1.Expect("a", "http://a.test")
	pos := publish(t, h1, "I1")
	ack(t, h1, "a", fmt.Sprint(pos))
	publish(t, h1, "I2")
	h1.Close()

	h2 := newHub(t, store, fleet.HubConfig{EdgeTimeout: time.Hour})
	st := h2.Status()
	e, ok := edgeOf(st, "a")
	if st.Head != pos+1 || !ok || e.Applied != pos || e.Lag != 1 || e.Connected {
		t.Fatalf("restored status %+v", st)
	}
	// Work resumed after the restart waits for the restored edge.
	again, _ := h2.Publish(context.Background(), "inv/"+distID+"/I2", fleet.Event{Kind: fleet.KindInvalidation, Invalidation: ptr(inv("I2"))})
	if again != pos+1 {
		t.Fatalf("republished at %d, want %d", again, pos+1)
	}
	if !blocked(t, h2, again) {
		t.Fatal("a restored edge is not waited for")
	}
	if s, ok := h2.EventStatus("inv/" + distID + "/I2"); !ok || len(s.Pending) != 1 || s.Pending[0] != "a" {
		t.Errorf("event status %+v", s)
	}
}

// The admin view of an event republished after a restart (as resumed
// work does) lists the edges that applied it before the restart.
func TestHubRestartKeepsAppliedBy(t *testing.T) {
	store := memory.New()
	h1, err := fleet.NewHub(context.Background(), fleet.HubConfig{Store: store, Logger: quiet,
		Distributions: func() []*distribution.Distribution { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	h1.Expect("a", "")
	h1.Expect("b", "")
	pos := publish(t, h1, "I1")
	ack(t, h1, "a", fmt.Sprint(pos))
	h1.Close()

	h2 := newHub(t, store, fleet.HubConfig{EdgeTimeout: time.Hour})
	publish(t, h2, "I1")
	s, _ := h2.EventStatus("inv/" + distID + "/I1")
	if _, ok := s.Applied["a"]; !ok || len(s.Pending) != 1 || s.Pending[0] != "b" {
		t.Errorf("admin view after the restart: %+v, want a in applied_by and b pending", s)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAdminEndpoints(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	r.hub.Expect("a", "http://a.test")
	pos := publish(t, r.hub, "I1")
	ack(t, r.hub, "a", fmt.Sprint(pos))

	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(r.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	code, v := get(fleet.PathAdmin)
	edges, _ := v["edges"].([]any)
	if code != 200 || v["head_position"] != float64(pos) || len(edges) != 1 || v["removed_edges"] == nil {
		t.Fatalf("admin edges: %d %v", code, v)
	}
	e := edges[0].(map[string]any)
	for _, k := range []string{"name", "addr", "connected", "last_seen", "applied_position", "lag"} {
		if _, ok := e[k]; !ok {
			t.Errorf("edge lacks %q: %v", k, e)
		}
	}
	code, v = get(fleet.PathAdminInvalidation + distID + "/I1")
	if applied, _ := v["applied_by"].(map[string]any); code != 200 || v["position"] != float64(pos) || applied["a"] == nil || v["pending"] == nil {
		t.Errorf("admin invalidation: %d %v", code, v)
	}
	if code, _ = get(fleet.PathAdminInvalidation + distID + "/INOSUCH"); code != 404 {
		t.Errorf("unknown invalidation: %d", code)
	}
	w := httptest.NewRecorder()
	r.hub.Handler().ServeHTTP(w, httptest.NewRequest("GET", fleet.PathStream+"?name=bad%20name", nil))
	if w.Code != 400 {
		t.Errorf("stream with a bad name: %d", w.Code)
	}
}

// A store may log an event itself, in the transaction of the change it
// carries (logstore.WithInvalidationEvent): Publish then finds the key logged,
// writes nothing, and must still wake the streams and track the event.
func TestPublishOfAnEventTheStoreLogged(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	r.hub.Expect("a", "")
	s := openStream(t, r.srv.URL, "b", "applied=0")
	s.next() // hello
	i := inv("I1", "/I1")
	key, data := "inv/"+distID+"/I1", mustJSON(t, fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &i})
	logged, err := r.store.AppendEvent(context.Background(), key, data)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := r.hub.Publish(context.Background(), key, fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &i})
	if err != nil || pos != logged {
		t.Fatalf("Publish: %d %v, want the position the store logged, %d", pos, err, logged)
	}
	if _, last, _ := r.store.LogBounds(context.Background()); last != logged {
		t.Fatalf("log's last position %d: Publish appended again", last)
	}
	expectInvalidations(t, s, []uint64{pos}, []string{"I1"})
	if st := r.hub.Status(); st.Head != pos {
		t.Errorf("head %d, want %d", st.Head, pos)
	}
	if es, ok := r.hub.EventStatus(key); !ok || es.Position != pos || len(es.Pending) != 2 {
		t.Errorf("event status %+v %v", es, ok)
	}
	if !blocked(t, r.hub, pos) {
		t.Error("WaitApplied does not wait for the edges")
	}
	ack(t, r.hub, "a", fmt.Sprint(pos))
	ack(t, r.hub, "b", fmt.Sprint(pos))
	if blocked(t, r.hub, pos) {
		t.Error("WaitApplied waits once every edge acknowledged")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The configuration file's distributions are logged at start-up when they
// differ from the last file logged, and a follower replaces its file
// distributions with them, keeping the others.
func TestPublishConfigFile(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	e := startFollower(t, r.srv.URL, "edge-1", 5*time.Second)
	waitFresh(t, e, true)
	api := testDist()
	api.ID, api.FromFile = "EAPIDIST000001", false
	p0, err := r.hub.Publish(context.Background(), "dist/"+api.ID, fleet.Event{Kind: fleet.KindDistribution, Distribution: api})
	if err != nil {
		t.Fatal(err)
	}
	waitAcked(t, r.hub, "edge-1", p0)

	fileDist := func(id, origin string) *distribution.Distribution {
		u, _ := url.Parse(origin)
		return distribution.FromFile(id, u, []string{strings.ToLower(id) + ".test"}, "", time.Now())
	}
	p1, err := r.hub.PublishConfigFile(context.Background(), []*distribution.Distribution{fileDist("EFILE1", "http://127.0.0.1:1"), fileDist("EFILE2", "http://127.0.0.1:2")})
	if err != nil || p1 <= p0 {
		t.Fatalf("PublishConfigFile: %d %v", p1, err)
	}
	waitAcked(t, r.hub, "edge-1", p1)
	// The same file (a restart without change) logs nothing.
	again, err := r.hub.PublishConfigFile(context.Background(), []*distribution.Distribution{fileDist("EFILE2", "http://127.0.0.1:2"), fileDist("EFILE1", "http://127.0.0.1:1")})
	if err != nil || again != p1 || r.hub.Status().Head != p1 {
		t.Fatalf("the same file again: %d %v, head %d", again, err, r.hub.Status().Head)
	}
	// Changed: EFILE1's origin moves, EFILE2 goes, EFILE3 comes.
	p2, err := r.hub.PublishConfigFile(context.Background(), []*distribution.Distribution{fileDist("EFILE1", "http://127.0.0.1:11"), fileDist("EFILE3", "http://127.0.0.1:3")})
	if err != nil || p2 <= p1 {
		t.Fatalf("changed file: %d %v", p2, err)
	}
	waitAcked(t, r.hub, "edge-1", p2)
	ids := []string{}
	for _, d := range e.registry.All() {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	// distID is a file distribution of the snapshot, gone from the new file.
	if want := []string{"EAPIDIST000001", "EFILE1", "EFILE3"}; !slices.Equal(ids, want) {
		t.Fatalf("edge's distributions %v, want %v", ids, want)
	}
	if d, _ := e.registry.Get("EFILE1"); d.Config.Origins[0].HTTPPort != 11 || !d.FromFile {
		t.Errorf("EFILE1 on the edge: %+v", d.Config.Origins[0])
	}
	if !e.cache.purged() {
		t.Errorf("the file distribution that went was not purged: %v", e.cache.applied())
	}
}

// The admin view keeps the most recent 20,000 events, and credits the
// edges of the retained ones across the ring's wrap.
func TestAdminViewKeepsTheLatestEvents(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{EdgeTimeout: time.Hour})
	h.Expect("a", "")
	i := inv("I", "/x")
	var pos []uint64
	for n := range 20010 {
		p, err := h.Publish(context.Background(), fmt.Sprint("k", n), fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &i})
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p)
	}
	for _, n := range []int{0, 9} {
		if _, ok := h.EventStatus(fmt.Sprint("k", n)); ok {
			t.Errorf("k%d is still in the admin view", n)
		}
	}
	for _, n := range []int{10, 15000, 20009} {
		if s, ok := h.EventStatus(fmt.Sprint("k", n)); !ok || s.Position != pos[n] || len(s.Pending) != 1 {
			t.Errorf("k%d: %+v %v", n, s, ok)
		}
	}
	ack(t, h, "a", fmt.Sprint(pos[15000]))
	for _, n := range []int{10, 12345, 15000} {
		if s, _ := h.EventStatus(fmt.Sprint("k", n)); s.Applied["a"].IsZero() || len(s.Pending) != 0 {
			t.Errorf("k%d after the ack: %+v", n, s)
		}
	}
	if s, _ := h.EventStatus("k15001"); !s.Applied["a"].IsZero() || len(s.Pending) != 1 {
		t.Errorf("k15001 after an ack of the position before it: %+v", s)
	}
	// An evicted event republished is older than every retained one: the
	// view keeps the newest 20,000.
	publish0, _ := h.Publish(context.Background(), "k0", fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &i})
	if _, ok := h.EventStatus("k0"); ok || publish0 != pos[0] {
		t.Errorf("k0 republished at %d (want %d) and back in the full view: %v", publish0, pos[0], ok)
	}
	for _, n := range []int{10, 20009} {
		if _, ok := h.EventStatus(fmt.Sprint("k", n)); !ok {
			t.Errorf("k%d left the view when k0 was republished", n)
		}
	}
	// Republished (as after a restart): found, not tracked twice.
	if p, _ := h.Publish(context.Background(), "k12345", fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &i}); p != pos[12345] {
		t.Errorf("republished at %d, want %d", p, pos[12345])
	}
	if s, ok := h.EventStatus("k12345"); !ok || s.Position != pos[12345] || len(s.Applied) != 1 {
		t.Errorf("k12345 republished: %+v %v", s, ok)
	}
}

// Events republished out of order (resumed work after a restart, logged
// before newer ones) are tracked in position order.
func TestAdminViewOutOfOrder(t *testing.T) {
	store := memory.New()
	h1 := newHub(t, store, fleet.HubConfig{EdgeTimeout: time.Hour})
	p1, p2 := publish(t, h1, "I1"), publish(t, h1, "I2")
	h1.Close()
	h2, err := fleet.NewHub(context.Background(), fleet.HubConfig{Store: store, Logger: quiet, EdgeTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	h2.Expect("a", "")
	p3 := publish(t, h2, "I3")
	if again := publish(t, h2, "I2"); again != p2 {
		t.Fatalf("I2 republished at %d, want %d", again, p2)
	}
	if again := publish(t, h2, "I1"); again != p1 {
		t.Fatalf("I1 republished at %d, want %d", again, p1)
	}
	ack(t, h2, "a", fmt.Sprint(p2))
	for id, want := range map[string]bool{"I1": true, "I2": true, "I3": false} {
		s, ok := h2.EventStatus("inv/" + distID + "/" + id)
		if !ok || s.Applied["a"].IsZero() == want {
			t.Errorf("%s after an ack of %d (I3 at %d): %+v %v", id, p2, p3, s, ok)
		}
	}
}
