package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/testutil"
)

// guarded answers a request through the follower's Guard.
func guarded(f *fleet.Follower) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from the cache")
	})).ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	return w
}

func TestGuardBeforeCatchingUp(t *testing.T) {
	f := fleet.NewFollower(fleet.FollowerConfig{ControlPlane: "http://127.0.0.1:9", Name: "idle",
		Registry: distribution.NewRegistry(), Cache: &recordingCache{}, Logger: quiet})
	if f.Fresh() {
		t.Fatal("fresh before hearing from the control plane")
	}
	w := guarded(f)
	if w.Code != 503 || w.Header().Get("X-Cache") != "Error from cloudfront" || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), "The request could not be satisfied") {
		t.Errorf("guard: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// waitFresh waits until the follower is fresh (or not).
func waitFresh(t *testing.T, e *edge, fresh bool) {
	t.Helper()
	eventually(t, fmt.Sprintf("Fresh() == %v", fresh), func() bool { return e.f.Fresh() == fresh })
}

// waitDisconnected waits until the hub sees the edge's stream closed.
func waitDisconnected(t *testing.T, h *fleet.Hub, name string) {
	t.Helper()
	eventually(t, name+" disconnected", func() bool {
		e, ok := edgeOf(h.Status(), name)
		return ok && !e.Connected
	})
}

// waitAcked waits until the hub has the edge at pos with lag 0.
func waitAcked(t *testing.T, h *fleet.Hub, name string, pos uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s acknowledging %d", name, pos), func() bool {
		e, ok := edgeOf(h.Status(), name)
		return ok && e.Connected && e.Applied == pos && e.Lag == 0
	})
}

func TestFollowerFreshTransitions(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs in the full suite")
	}
	r := newRig(t, fleet.HubConfig{})
	e := startFollower(t, r.srv.URL, "edge-1", 2*time.Second)
	waitFresh(t, e, true)
	if _, ok := e.registry.Get(distID); !ok {
		t.Fatal("the snapshot's distribution is not in the edge's registry")
	}
	if w := guarded(e.f); w.Code != 200 || w.Body.String() != "from the cache" {
		t.Fatalf("fresh edge's guard: %d %s", w.Code, w.Body)
	}
	p1 := publish(t, r.hub, "I1")
	waitAcked(t, r.hub, "edge-1", p1)
	if got := e.cache.applied(); !slices.Equal(got, []string{"I1"}) {
		t.Fatalf("cache applied %v", got)
	}

	// Cut off for longer than MaxStaleness: not fresh.
	r.setDown(true)
	waitFresh(t, e, false)
	if w := guarded(e.f); w.Code != 503 {
		t.Fatalf("cut-off edge's guard: %d", w.Code)
	}
	p2 := publish(t, r.hub, "I2")

	// Back: fresh only once it applied what it missed.
	r.setDown(false)
	waitFresh(t, e, true)
	if got := e.f.Applied(); got < p2 {
		t.Fatalf("fresh at position %d, below the head %d", got, p2)
	}
	if got := e.cache.applied(); !slices.Equal(got, []string{"I1", "I2"}) {
		t.Fatalf("cache applied %v", got)
	}
	waitAcked(t, r.hub, "edge-1", p2)
}

// Answers of the fake control plane to acknowledgements.
const (
	ackOK = iota
	ackFail
	ackConflict
)

// fakeControlPlane streams what the test says.
type fakeControlPlane struct {
	*httptest.Server
	refuse  atomic.Bool  // streams and acknowledgements answer 503
	ackMode atomic.Int32 // ackOK, ackFail (503) or ackConflict (409)
	head    atomic.Uint64
	streams atomic.Int32
	pings   atomic.Int32 // written on the current stream
	cut     chan struct{}
	release chan struct{}
	auth    sync.Map // path -> Authorization header
}

func newFakeControlPlane(t *testing.T) *fakeControlPlane {
	cp := &fakeControlPlane{cut: make(chan struct{}), release: make(chan struct{})}
	d := testDist()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+fleet.PathAck, func(w http.ResponseWriter, r *http.Request) {
		cp.auth.Store(fleet.PathAck, r.Header.Get("Authorization"))
		switch {
		case cp.refuse.Load() || cp.ackMode.Load() == ackFail:
			http.Error(w, "refused", http.StatusServiceUnavailable)
		case cp.ackMode.Load() == ackConflict:
			http.Error(w, "not in the registry", http.StatusConflict)
		default:
			w.Header().Set(fleet.HeaderHead, fmt.Sprint(cp.head.Load()))
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("GET "+fleet.PathStream, func(w http.ResponseWriter, r *http.Request) {
		cp.auth.Store(fleet.PathStream, r.Header.Get("Authorization"))
		if cp.refuse.Load() {
			http.Error(w, "refused", http.StatusServiceUnavailable)
			return
		}
		n := cp.streams.Add(1)
		cp.pings.Store(0)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		send := func(id uint64, kind string, v any) {
			data, _ := json.Marshal(v)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", id, kind, data)
			fl.Flush()
		}
		pingUntil := func(done <-chan struct{}) bool {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return true
				case <-r.Context().Done():
					return false
				case <-tick.C:
					io.WriteString(w, ": ping\n\n")
					fl.Flush()
					cp.pings.Add(1)
				}
			}
		}
		if n == 1 {
			send(0, "hello", map[string]any{"head": 0, "snapshot": true})
			send(0, fleet.KindSnapshot, fleet.Snapshot{Head: 0, Distributions: []distribution.Distribution{*d}})
			pingUntil(cp.cut)
			return
		}
		// Later streams: two events to catch up with, held back until
		// release.
		cp.head.Store(2)
		send(0, "hello", map[string]any{"head": 2})
		if !pingUntil(cp.release) {
			return
		}
		for i, id := range []string{"I1", "I2"} {
			v := inv(id, "/"+id)
			send(uint64(i+1), fleet.KindInvalidation, fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &v})
		}
		pingUntil(r.Context().Done())
	})
	cp.Server = httptest.NewServer(mux)
	t.Cleanup(cp.Close)
	return cp
}

// An edge cut off for longer than MaxStaleness is not fresh again before
// it has applied everything up to the head its new stream announced,
// however lively that stream is.
func TestFollowerNotFreshUntilCaughtUp(t *testing.T) {
	cp := newFakeControlPlane(t)
	e := startFollower(t, cp.URL, "edge-1", 300*time.Millisecond)
	waitFresh(t, e, true)

	cp.refuse.Store(true)
	cp.head.Store(2) // logged while the edge is cut off
	close(cp.cut)
	waitFresh(t, e, false)
	cp.refuse.Store(false)
	eventually(t, "a second stream", func() bool { return cp.streams.Load() >= 2 && cp.pings.Load() >= 1 })
	// Pinged every 50ms (MaxStaleness is 300ms), but behind the head.
	deadline := time.Now().Add(15 * time.Second)
	for seen := cp.pings.Load(); cp.pings.Load() < seen+10; {
		if time.Now().After(deadline) {
			t.Fatal("the stream stopped")
		}
		if e.f.Fresh() {
			t.Fatalf("fresh at position %d, with the stream's head at 2", e.f.Applied())
		}
		if w := guarded(e.f); w.Code != 503 {
			t.Fatalf("guard of an edge catching up: %d", w.Code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(cp.release)
	waitFresh(t, e, true)
	if got := e.cache.applied(); !slices.Equal(got, []string{"I1", "I2"}) || e.f.Applied() != 2 {
		t.Fatalf("cache applied %v, position %d", got, e.f.Applied())
	}
	if w := guarded(e.f); w.Code != 200 {
		t.Fatalf("guard once caught up: %d", w.Code)
	}
}

func TestFollowerSigns(t *testing.T) {
	cp := newFakeControlPlane(t)
	e := &edge{cache: &recordingCache{}, registry: distribution.NewRegistry()}
	e.f = fleet.NewFollower(fleet.FollowerConfig{ControlPlane: cp.URL, Name: "signed", AccessKeyID: "AKIDEDGE", SecretAccessKey: "s3cr3t",
		Registry: e.registry, Cache: e.cache, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.f.Run(ctx)
	close(cp.cut) // a second stream, with events, so that the edge acknowledges
	close(cp.release)
	eventually(t, "an acknowledgement", func() bool { _, ok := cp.auth.Load(fleet.PathAck); return ok })
	for _, p := range []string{fleet.PathStream, fleet.PathAck} {
		a, _ := cp.auth.Load(p)
		if s, _ := a.(string); !strings.HasPrefix(s, "AWS4-HMAC-SHA256 Credential=AKIDEDGE/") || !strings.Contains(s, "/cloudfront/aws4_request") {
			t.Errorf("%s: Authorization %q", p, s)
		}
	}
}

func TestFollowerResumesAfterItsPosition(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	e := startFollower(t, r.srv.URL, "edge-1", 5*time.Second)
	waitFresh(t, e, true)
	p1 := publish(t, r.hub, "I1")
	waitAcked(t, r.hub, "edge-1", p1)

	r.setDown(true)
	waitDisconnected(t, r.hub, "edge-1")
	publish(t, r.hub, "I2")
	p3 := publish(t, r.hub, "I3")
	r.setDown(false)
	waitAcked(t, r.hub, "edge-1", p3)
	if got := e.cache.applied(); !slices.Equal(got, []string{"I1", "I2", "I3"}) {
		t.Fatalf("cache applied %v, want each invalidation once, in order, no purge", got)
	}
}

func TestFollowerPurgesWhenItMissedTrimmedEvents(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	e := startFollower(t, r.srv.URL, "edge-1", 5*time.Second)
	waitFresh(t, e, true)
	p1 := publish(t, r.hub, "I1")
	waitAcked(t, r.hub, "edge-1", p1)

	r.setDown(true)
	waitDisconnected(t, r.hub, "edge-1")
	publish(t, r.hub, "I2")
	publish(t, r.hub, "I3")
	p4 := publish(t, r.hub, "I4")
	if err := r.store.TrimEvents(context.Background(), p4); err != nil {
		t.Fatal(err)
	}
	r.setDown(false)
	waitAcked(t, r.hub, "edge-1", p4)
	got := e.cache.applied()
	if !e.cache.purged() || slices.Contains(got, "I2") || slices.Contains(got, "I3") {
		t.Fatalf("cache applied %v, want I1 then a purge", got)
	}
	if e.f.Applied() != p4 {
		t.Errorf("position %d, want %d", e.f.Applied(), p4)
	}
}

func TestFollowerPurgesWhenAheadOfTheLog(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	e := startFollower(t, r.srv.URL, "edge-1", 5*time.Second)
	waitFresh(t, e, true)
	publish(t, r.hub, "I1")
	publish(t, r.hub, "I2")
	p3 := publish(t, r.hub, "I3")
	waitAcked(t, r.hub, "edge-1", p3)

	// A control plane on a new, shorter log.
	h2 := newHub(t, memory.New(), fleet.HubConfig{})
	q1 := publish(t, h2, "J1")
	r.swap(h2)
	eventually(t, "a purge", func() bool { return e.cache.purged() })
	waitAcked(t, h2, "edge-1", q1)
	if e.f.Applied() != q1 {
		t.Fatalf("cache applied %v, position %d: want a purge at %d", e.cache.applied(), e.f.Applied(), q1)
	}
	if slices.Contains(e.cache.applied(), "J1") {
		t.Errorf("J1 applied on top of the purge that covers it: %v", e.cache.applied())
	}
}

// An edge that reconnects at position 0 (nothing was logged when it
// loaded its snapshot) must still apply what was logged while it was away.
func TestFollowerAtPositionZeroMissesNothing(t *testing.T) {
	r := newRig(t, fleet.HubConfig{})
	e := startFollower(t, r.srv.URL, "edge-1", 5*time.Second)
	waitFresh(t, e, true)
	waitAcked(t, r.hub, "edge-1", 0)

	r.setDown(true)
	waitDisconnected(t, r.hub, "edge-1")
	p1 := publish(t, r.hub, "I1")
	r.setDown(false)
	waitAcked(t, r.hub, "edge-1", p1)
	if got := e.cache.applied(); !slices.Contains(got, "I1") && !e.cache.purged() {
		t.Fatalf("acknowledged position %d without applying I1 (cache applied %v)", p1, got)
	}
}

// A stream that keeps delivering bytes (pings buffered while the edge was
// stopped, or a hub that no longer accepts it) does not keep the edge
// fresh: only acknowledgements the control plane accepts do.
func TestFollowerFreshOnlyWithAcceptedAcks(t *testing.T) {
	cp := newFakeControlPlane(t)
	e := startFollower(t, cp.URL, "edge-1", 300*time.Millisecond)
	waitFresh(t, e, true)
	cp.ackMode.Store(ackFail)
	waitFresh(t, e, false)
	// Pinged every 50ms meanwhile, on the same stream.
	if n := cp.streams.Load(); n != 1 || cp.pings.Load() == 0 {
		t.Fatalf("%d streams, %d pings", n, cp.pings.Load())
	}
	if w := guarded(e.f); w.Code != 503 {
		t.Fatalf("guard without accepted acknowledgements: %d", w.Code)
	}
	cp.ackMode.Store(ackOK)
	waitFresh(t, e, true)
}

// An acknowledgement refused with 409 (the hub dropped the edge) makes the
// follower open a new stream, which registers it again.
func TestFollowerReconnectsWhenNotRegistered(t *testing.T) {
	cp := newFakeControlPlane(t)
	e := startFollower(t, cp.URL, "edge-1", 5*time.Second)
	waitFresh(t, e, true)
	cp.ackMode.Store(ackConflict)
	eventually(t, "a second stream", func() bool { return cp.streams.Load() >= 2 })
}

// The hub's edge timeout caps the edge's max staleness at half of it, and
// the edge says so in its log.
func TestFollowerCapsMaxStaleness(t *testing.T) {
	r := newRig(t, fleet.HubConfig{EdgeTimeout: 3 * time.Second})
	var logs testutil.SyncBuffer
	f := fleet.NewFollower(fleet.FollowerConfig{ControlPlane: r.srv.URL, Name: "capped", Registry: distribution.NewRegistry(),
		Cache: &recordingCache{}, MaxStaleness: time.Minute, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := f.MaxStaleness(); got != time.Minute {
		t.Fatalf("max staleness %v before hearing from the hub", got)
	}
	runFollower(t, f)
	eventually(t, "fresh", f.Fresh)
	if got := f.MaxStaleness(); got != 1500*time.Millisecond {
		t.Errorf("max staleness %v, want 1.5s", got)
	}
	if !strings.Contains(logs.String(), "max staleness capped") {
		t.Errorf("log: %s", logs.String())
	}
}
