package fleet_test

// Who is in the registry: edges that leave, names taken by another
// process, and the in-process edge across restarts.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/store/memory"
)

// streamAs opens a stream as instance of name and returns its status and
// error message; a 200 stream stays open until the end of t.
func streamAs(t *testing.T, base, name, instance string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	q := url.Values{"name": {name}, "instance": {instance}, "addr": {"http://" + instance + ".test"}}
	req, _ := http.NewRequestWithContext(ctx, "GET", base+fleet.PathStream+"?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 {
		go func() { io.Copy(io.Discard, resp.Body); resp.Body.Close() }()
		return 200, ""
	}
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error
}

// post POSTs path with query q and returns the status.
func post(t *testing.T, base, path string, q url.Values) int {
	t.Helper()
	resp, err := http.Post(base+path+"?"+q.Encode(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A follower that leaves is out of the registry at once: work stops
// waiting for it (the edge timeout here is far longer than the test), and
// it is no longer fresh.
func TestLeaveEndsTheWait(t *testing.T) {
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 10 * time.Minute})
	a := startFollower(t, r.srv.URL, "a", 10*time.Second)
	b := startFollower(t, r.srv.URL, "b", 10*time.Second)
	waitFresh(t, a, true)
	waitFresh(t, b, true)
	b.stop()
	pos := publish(t, r.hub, "I1")
	if err := b.f.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.f.Fresh() {
		t.Error("an edge that left is still fresh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.hub.WaitApplied(ctx, pos); err != nil {
		t.Fatalf("WaitApplied after b left: %v (registry %+v)", err, r.hub.Status())
	}
	st := r.hub.Status()
	if _, in := edgeOf(st, "b"); in || len(st.Removed) != 1 || st.Removed[0].Name != "b" || !strings.Contains(st.Removed[0].Reason, "left") {
		t.Errorf("status: %+v", st)
	}
	// Its instance cannot come back (a stream request that arrives late).
	if code, msg := streamAs(t, r.srv.URL, "b", b.f.Instance()); code == 200 || !strings.Contains(msg, "left the fleet") {
		t.Errorf("stream of an instance that left: %d %q", code, msg)
	}
	// Leaving again, or as another instance, changes nothing.
	if code := post(t, r.srv.URL, fleet.PathLeave, url.Values{"name": {"a"}, "instance": {"someone-else"}}); code != http.StatusNoContent {
		t.Errorf("leave of another instance: %d", code)
	}
	if _, in := edgeOf(r.hub.Status(), "a"); !in {
		t.Error("another instance's leave removed a")
	}
	if code := post(t, r.srv.URL, fleet.PathLeave, url.Values{"name": {"a"}}); code != http.StatusBadRequest {
		t.Errorf("leave without an instance: %d, want 400", code)
	}
}

// A live edge's name is refused to another process, with a 409 naming
// it; the same process reconnects; acknowledgements of another instance
// are refused.
func TestLiveNameIsRefused(t *testing.T) {
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 10 * time.Minute})
	if code, _ := streamAs(t, r.srv.URL, "x", "first"); code != 200 {
		t.Fatalf("first stream: %d", code)
	}
	code, msg := streamAs(t, r.srv.URL, "x", "second")
	if code != http.StatusConflict || !strings.Contains(msg, "edge x is already in the fleet") {
		t.Errorf("second process: %d %q, want 409 naming edge x", code, msg)
	}
	if code, _ := streamAs(t, r.srv.URL, "x", "first"); code != 200 {
		t.Errorf("the same process reconnecting: %d", code)
	}
	if code := post(t, r.srv.URL, fleet.PathAck, url.Values{"name": {"x"}, "instance": {"second"}, "pos": {"0"}}); code != http.StatusConflict {
		t.Errorf("ack of another instance: %d, want 409", code)
	}
	if code := post(t, r.srv.URL, fleet.PathAck, url.Values{"name": {"x"}, "instance": {"first"}, "pos": {"0"}}); code != http.StatusNoContent {
		t.Errorf("ack of the holder: %d, want 204", code)
	}
	if code := post(t, r.srv.URL, fleet.PathAck, url.Values{"name": {"x"}, "pos": {"0"}}); code != http.StatusBadRequest {
		t.Errorf("ack without an instance: %d, want 400", code)
	}
}

// A follower refused its name gives up after a while: Run returns the
// control plane's NameConflictError.
func TestFollowerGivesUpOnATakenName(t *testing.T) {
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 10 * time.Minute})
	a := startFollower(t, r.srv.URL, "dup", 10*time.Second)
	waitFresh(t, a, true)
	f := fleet.NewFollower(fleet.FollowerConfig{ControlPlane: r.srv.URL, Name: "dup", Registry: a.registry, Cache: &recordingCache{}, Logger: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := f.Run(ctx)
	if _, ok := err.(*fleet.NameConflictError); !ok || !strings.Contains(err.Error(), "edge dup") {
		t.Fatalf("Run: %v, want a NameConflictError naming dup", err)
	}
	if e, _ := edgeOf(r.hub.Status(), "dup"); !e.Connected || e.Addr != "http://dup.test" {
		t.Errorf("registry: %+v", r.hub.Status())
	}
}

// A process takes the name of an edge that is not live (here: stream
// open, silent for longer than the live window); the previous one stays,
// replaced, until it has been silent for half the edge timeout, and work
// waits for it until then.
func TestNotLiveNameIsTakenAndTheOldWaitedFor(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	r := newRig(t, fleet.HubConfig{EdgeTimeout: time.Minute, Now: clock.Now})
	if code, _ := streamAs(t, r.srv.URL, "x", "old"); code != 200 {
		t.Fatalf("old: %d", code)
	}
	clock.advance(4 * time.Second)
	if code, msg := streamAs(t, r.srv.URL, "x", "new"); code != 200 {
		t.Fatalf("new process after the old one went silent: %d %s", code, msg)
	}
	st := r.hub.Status()
	if e, in := edgeOf(st, "x"); !in || e.Addr != "http://new.test" {
		t.Fatalf("registry: %+v", st)
	}
	if e, in := edgeOf(st, "x#old"); !in || !e.Replaced {
		t.Fatalf("registry: %+v", st)
	}
	if code := post(t, r.srv.URL, fleet.PathAck, url.Values{"name": {"x"}, "instance": {"old"}, "pos": {"0"}}); code != http.StatusConflict {
		t.Errorf("ack of the replaced instance: %d, want 409", code)
	}
	pos := publish(t, r.hub, "I1")
	if code := post(t, r.srv.URL, fleet.PathAck, url.Values{"name": {"x"}, "instance": {"new"}, "pos": {fmt.Sprint(pos)}}); code != http.StatusNoContent {
		t.Fatalf("ack of the new instance: %d", code)
	}
	if s, _ := r.hub.EventStatus("inv/" + distID + "/I1"); !slices.Equal(s.Pending, []string{"x#old"}) {
		t.Errorf("pending: %v, want the replaced process", s.Pending)
	}
	clock.advance(27 * time.Second) // silent 31s: more than half the timeout
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.hub.WaitApplied(ctx, pos); err != nil {
		t.Fatalf("WaitApplied: %v (%+v)", err, r.hub.Status())
	}
	if st := r.hub.Status(); len(st.Removed) != 1 || st.Removed[0].Name != "x#old" || !strings.Contains(st.Removed[0].Reason, "half the edge timeout") {
		t.Errorf("status: %+v", st)
	}
}

// The replaced process leaving ends the wait for it at once.
func TestReplacedProcessLeaves(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 10 * time.Minute, Now: clock.Now})
	streamAs(t, r.srv.URL, "x", "old")
	clock.advance(4 * time.Second)
	if code, _ := streamAs(t, r.srv.URL, "x", "new"); code != 200 {
		t.Fatalf("new: %d", code)
	}
	if code := post(t, r.srv.URL, fleet.PathLeave, url.Values{"name": {"x"}, "instance": {"old"}}); code != http.StatusNoContent {
		t.Fatalf("leave: %d", code)
	}
	st := r.hub.Status()
	if _, in := edgeOf(st, "x#old"); in || len(st.Edges) != 1 {
		t.Errorf("registry after the replaced process left: %+v", st)
	}
}

// A control plane restarted without its in-process edge drops the
// previous run's; restarted with it, it keeps it; an edge of another
// process cannot take the in-process edge's name.
func TestInProcessEdgeAcrossRestarts(t *testing.T) {
	store := memory.New()
	reopen := func(local string) *fleet.Hub {
		h, err := fleet.NewHub(context.Background(), fleet.HubConfig{Store: store, LocalEdge: local, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := reopen("local")
	h.Expect("local", "http://local.test")
	h.Expect("other", "http://other.test")
	h.Close()

	h = reopen("local")
	if e, in := edgeOf(h.Status(), "local"); !in || !e.InProcess {
		t.Errorf("restarted with the in-process edge: %+v", h.Status())
	}
	h.Close()

	h = reopen("")
	st := h.Status()
	if _, in := edgeOf(st, "local"); in || len(st.Removed) != 1 || !strings.Contains(st.Removed[0].Reason, "without this in-process edge") {
		t.Errorf("restarted without it: %+v", st)
	}
	if _, in := edgeOf(st, "other"); !in {
		t.Errorf("another edge left with the in-process one: %+v", st)
	}
	h.Close()

	h = reopen("") // and it stays gone
	if _, in := edgeOf(h.Status(), "local"); in {
		t.Errorf("the in-process edge came back: %+v", h.Status())
	}
	h.Close()

	r := newRig(t, fleet.HubConfig{LocalEdge: "local"})
	r.hub.Expect("local", "")
	if code, msg := streamAs(t, r.srv.URL, "local", "external"); code != http.StatusConflict || !strings.Contains(msg, "in-process edge") {
		t.Errorf("an external edge named like the in-process one: %d %q", code, msg)
	}
}
