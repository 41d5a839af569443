package fleet_test

// Several control-plane replicas on one shared store: hubs on one
// memory.Store (as replicas share a database), each behind its own HTTP
// server, with real followers over HTTP.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

// replica is a hub on a shared store behind an HTTP server that can be
// killed (its connections cut, its hub stopped) and started again at the
// same URL with a new hub, as a replica restarted by a supervisor.
type replica struct {
	t      *testing.T
	shared memory.Shared
	cfg    fleet.HubConfig
	srv    *httptest.Server
	mu     sync.Mutex
	hub    *fleet.Hub // nil while dead; guarded by mu
	dead   atomic.Bool
}

func startReplica(t *testing.T, shared memory.Shared, cfg fleet.HubConfig) *replica {
	t.Helper()
	r := &replica{t: t, shared: shared, cfg: cfg}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		h := r.hub
		r.mu.Unlock()
		if h == nil || r.dead.Load() {
			// A dead process: the connection is dropped, nothing answers.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			return
		}
		h.Handler().ServeHTTP(w, req)
	}))
	r.start()
	t.Cleanup(func() {
		r.kill()
		r.srv.Close()
	})
	return r
}

// start runs a new hub behind the server.
func (r *replica) start() *fleet.Hub {
	r.t.Helper()
	c := r.cfg
	c.Store = r.shared
	if c.Distributions == nil {
		d := testDist()
		c.Distributions = func() []*distribution.Distribution { return []*distribution.Distribution{d} }
	}
	if c.Logger == nil {
		c.Logger = quiet
	}
	h, err := fleet.NewHub(context.Background(), c)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.hub = h
	r.mu.Unlock()
	r.dead.Store(false)
	return h
}

// kill cuts every connection of the replica at once, as the kernel does
// for a process killed with SIGKILL, and stops its hub.
func (r *replica) kill() {
	r.dead.Store(true)
	r.srv.CloseClientConnections()
	r.mu.Lock()
	h := r.hub
	r.hub = nil
	r.mu.Unlock()
	if h != nil {
		h.StopStreams()
		h.Close()
	}
}

func (r *replica) Hub() *fleet.Hub {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hub
}

// attached reports whether edge name has its stream open at r's hub.
func (r *replica) attached(name string) bool {
	h := r.Hub()
	if h == nil {
		return false
	}
	e, ok := edgeOf(h.Status(), name)
	return ok && e.Connected
}

func registered(h *fleet.Hub, name string) bool {
	_, ok := edgeOf(h.Status(), name)
	return ok
}

// storedEdges is the shared registry's names.
func storedEdges(t *testing.T, s memory.Shared) []string {
	t.Helper()
	m, err := s.Edges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Two replicas, an edge on each: an invalidation logged at A reaches B's
// edge (B learns of A's events from the store), and A's WaitApplied (what
// turns it Completed) waits for B's edge too; a third replica started
// later sees both edges and waits for them as well.
func TestReplicasWaitForEveryEdge(t *testing.T) {
	shared := memory.New().Shared()
	a := startReplica(t, shared, fleet.HubConfig{EdgeTimeout: 10 * time.Second})
	b := startReplica(t, shared, fleet.HubConfig{EdgeTimeout: 10 * time.Second})
	ea := startFollower(t, a.srv.URL, "edge-a", 5*time.Second)
	cacheB := &blockingCache{started: make(chan string, 16)}
	fb := fleet.NewFollower(fleet.FollowerConfig{ControlPlane: b.srv.URL, Name: "edge-b", Addr: "http://edge-b.test",
		Registry: distribution.NewRegistry(), Cache: cacheB, MaxStaleness: 5 * time.Second, Logger: quiet})
	runFollower(t, fb)
	eventually(t, "each edge attached to its replica", func() bool { return a.attached("edge-a") && b.attached("edge-b") })
	eventually(t, "each replica seeing the other's edge", func() bool {
		return registered(a.Hub(), "edge-b") && registered(b.Hub(), "edge-a")
	})

	cacheB.mu.Lock() // edge-b cannot apply yet
	pos := publish(t, a.Hub(), "I1")
	waited := make(chan error, 1)
	go func() { waited <- a.Hub().WaitApplied(context.Background(), pos) }()
	eventually(t, "edge-a applying I1", func() bool { return ea.f.Applied() >= pos })
	select {
	case <-cacheB.started: // B streamed A's event to its edge
	case <-time.After(15 * time.Second):
		t.Fatal("B never streamed the invalidation logged at A")
	}
	if blocked(t, a.Hub(), pos) == false {
		t.Fatal("A's WaitApplied returned before edge-b (attached to B) applied the invalidation")
	}
	select {
	case err := <-waited:
		t.Fatalf("WaitApplied returned (%v) while edge-b had not applied the invalidation", err)
	default:
	}
	cacheB.mu.Unlock()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("A's WaitApplied still waiting after both edges applied the invalidation")
	}
	if !slices.Contains(cacheB.applied(), "I1") {
		t.Fatalf("edge-b applied %v", cacheB.applied())
	}

	// A third replica, started later, knows both edges and waits for them.
	c := startReplica(t, shared, fleet.HubConfig{EdgeTimeout: 10 * time.Second})
	if !registered(c.Hub(), "edge-a") || !registered(c.Hub(), "edge-b") {
		t.Fatalf("a replica started later sees %+v, want edge-a and edge-b", c.Hub().Status().Edges)
	}
	cacheB.mu.Lock()
	pos2 := publish(t, c.Hub(), "I2")
	eventually(t, "edge-a applying I2 logged at C", func() bool { return ea.f.Applied() >= pos2 })
	if !blocked(t, c.Hub(), pos2) {
		t.Fatal("C's WaitApplied returned before edge-b applied the invalidation")
	}
	cacheB.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Hub().WaitApplied(ctx, pos2); err != nil {
		t.Fatalf("C's WaitApplied: %v", err)
	}
}

// An edge following replicas A and B moves to the other one when its
// replica is killed, resumes after its position (no snapshot, no purge,
// nothing missed), applies an invalidation logged at the survivor, and
// stays in the registry throughout. The failover time (kill to the edge
// applying the survivor's invalidation) is reported, never asserted.
func TestEdgeFailsOverBetweenReplicas(t *testing.T) {
	shared := memory.New().Shared()
	cfg := fleet.HubConfig{EdgeTimeout: 10 * time.Second}
	reps := []*replica{startReplica(t, shared, cfg), startReplica(t, shared, cfg)}
	e := startFollower(t, reps[0].srv.URL+","+reps[1].srv.URL, "edge", 5*time.Second)
	other := startFollower(t, reps[0].srv.URL, "other", 5*time.Second) // follows A only
	_ = other
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	var times []time.Duration
	var want []string
	for round := range rounds {
		var on, off *replica
		eventually(t, "the edge attached to a replica", func() bool {
			for i, r := range reps {
				if r.attached("edge") {
					on, off = r, reps[1-i]
					return true
				}
			}
			return false
		})
		id := fmt.Sprintf("before-%d", round)
		pos := publish(t, on.Hub(), id)
		want = append(want, id)
		eventually(t, "the edge applying "+id, func() bool { return e.f.Applied() >= pos })

		start := time.Now()
		on.kill()
		id = fmt.Sprintf("after-%d", round)
		pos = publish(t, off.Hub(), id)
		want = append(want, id)
		eventually(t, "the edge applying "+id+" after its replica died", func() bool { return e.f.Applied() >= pos })
		times = append(times, time.Since(start))
		if !off.attached("edge") {
			t.Fatalf("round %d: the edge is not attached to the surviving replica", round)
		}
		for _, n := range storedEdges(t, shared) {
			if strings.Contains(n, "#") {
				t.Fatalf("round %d: the edge's entry was replaced (%v)", round, storedEdges(t, shared))
			}
		}
		if !slices.Contains(storedEdges(t, shared), "edge") {
			t.Fatalf("round %d: the edge left the registry when its replica died: %v", round, storedEdges(t, shared))
		}
		// The survivor's WaitApplied covers the edge (and "other", which
		// follows the dead replica's URL only: work waits for it until it
		// comes back, or leaves after the edge timeout).
		on.start()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := off.Hub().WaitApplied(ctx, pos)
		cancel()
		if err != nil {
			t.Fatalf("round %d: WaitApplied at the survivor: %v", round, err)
		}
	}
	if got := e.cache.applied(); !slices.Equal(got, want) {
		t.Fatalf("the edge applied %v, want %v (each once, in order, no purge)", got, want)
	}
	for _, r := range reps {
		if rm := r.Hub().Status().Removed; len(rm) != 0 {
			t.Fatalf("edges removed from the registry: %+v", rm)
		}
	}
	slices.Sort(times)
	t.Logf("failover (replica killed -> edge applied an invalidation logged at the other), %d rounds: p50 %v, p90 %v, max %v",
		len(times), times[len(times)/2].Round(time.Millisecond), times[len(times)*9/10].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
}

// A replica dies before its invalidation is completed (an edge attached
// to another replica had not applied it yet): a surviving replica's
// service completes it once every edge has applied it.
func TestSurvivorCompletesADeadReplicasInvalidation(t *testing.T) {
	store := memory.New()
	shared := store.Shared()
	if err := store.CreateDistribution(context.Background(), *testDist()); err != nil {
		t.Fatal(err)
	}
	cfg := fleet.HubConfig{EdgeTimeout: 10 * time.Second}
	a := startReplica(t, shared, cfg)
	b := startReplica(t, shared, cfg)
	startFollower(t, a.srv.URL+","+b.srv.URL, "edge-a", 5*time.Second)
	cacheB := &blockingCache{started: make(chan string, 16)}
	fb := fleet.NewFollower(fleet.FollowerConfig{ControlPlane: b.srv.URL, Name: "edge-b", Addr: "http://edge-b.test",
		Registry: distribution.NewRegistry(), Cache: cacheB, MaxStaleness: 5 * time.Second, Logger: quiet})
	runFollower(t, fb)
	eventually(t, "each replica seeing both edges", func() bool {
		return registered(a.Hub(), "edge-b") && registered(b.Hub(), "edge-a")
	})
	svc := func(h *fleet.Hub) *invalidation.Service {
		s := invalidation.NewService(invalidation.Config{Store: store, Distributions: benchDists{}, Applier: h, Logger: quiet})
		t.Cleanup(s.Close)
		return s
	}
	sa, sb := svc(a.Hub()), svc(b.Hub())

	cacheB.mu.Lock()
	inv, _, err := sa.Create(context.Background(), distID, invalidation.Batch{CallerReference: "r1", Paths: []string{"/x"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-cacheB.started:
	case <-time.After(15 * time.Second):
		t.Fatal("edge-b never got the invalidation")
	}
	sa.Close() // the replica dies with its invalidation InProgress
	a.kill()
	got, _ := store.Get(context.Background(), distID, inv.ID)
	if got.Status != invalidation.InProgress {
		t.Fatalf("status %s before edge-b applied it", got.Status)
	}
	cacheB.mu.Unlock()
	if _, err := sb.Adopt(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the survivor completing the dead replica's invalidation", func() bool {
		got, _ := store.Get(context.Background(), distID, inv.ID)
		return got.Status == invalidation.Completed
	})
}

// A replica without an in-process edge (serve --no-edge) started on a
// shared registry leaves the other replicas' in-process edges in it.
func TestReplicaKeepsOthersInProcessEdges(t *testing.T) {
	shared := memory.New().Shared()
	a := startReplica(t, shared, fleet.HubConfig{EdgeTimeout: 10 * time.Second, LocalEdge: "local-a"})
	startLocalFollower(t, a.Hub(), "local-a", &recordingCache{})
	eventually(t, "the in-process edge attached", func() bool { return a.attached("local-a") })
	eventually(t, "its entry stored", func() bool { return slices.Contains(storedEdges(t, shared), "local-a") })
	b := startReplica(t, shared, fleet.HubConfig{EdgeTimeout: 10 * time.Second})
	c := startReplica(t, shared, fleet.HubConfig{EdgeTimeout: 10 * time.Second, LocalEdge: "local-c"})
	for _, h := range []*fleet.Hub{b.Hub(), c.Hub()} {
		if !registered(h, "local-a") {
			t.Fatalf("a replica started later dropped another's in-process edge: %+v", h.Status())
		}
	}
	pos := publish(t, b.Hub(), "I1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := b.Hub().WaitApplied(ctx, pos); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(storedEdges(t, shared), "local-a") {
		t.Fatalf("registry %v", storedEdges(t, shared))
	}
}

// Another replica's edges: kept while they acknowledge it (its replica
// rewrites their entries), removed by a surviving replica once silent for
// the edge timeout after their replica died and they could not follow
// another one.
func TestReplicaRemovesSilentEdgesOfADeadReplica(t *testing.T) {
	shared := memory.New().Shared()
	cfg := fleet.HubConfig{EdgeTimeout: 2 * time.Second}
	a := startReplica(t, shared, cfg)
	b := startReplica(t, shared, cfg)
	e1 := startFollower(t, b.srv.URL, "edge-1", time.Second) // B only
	startFollower(t, b.srv.URL, "edge-2", time.Second)
	eventually(t, "A seeing B's edges", func() bool { return registered(a.Hub(), "edge-1") && registered(a.Hub(), "edge-2") })
	// Three edge timeouts with B's edges acknowledging B only: A keeps them.
	deadline := time.Now().Add(3 * cfg.EdgeTimeout)
	for time.Now().Before(deadline) {
		if rm := a.Hub().Status().Removed; len(rm) != 0 {
			t.Fatalf("A removed edges that acknowledge B: %+v", rm)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !registered(a.Hub(), "edge-1") || !registered(a.Hub(), "edge-2") || !slices.Contains(storedEdges(t, shared), "edge-1") {
		t.Fatalf("A: %+v; stored %v", a.Hub().Status(), storedEdges(t, shared))
	}
	e1.stop()
	b.kill() // edge-2 cannot follow another replica either
	eventually(t, "A removing the dead replica's silent edges", func() bool {
		s := a.Hub().Status()
		return !registered(a.Hub(), "edge-1") && !registered(a.Hub(), "edge-2") && len(s.Removed) == 2
	})
	for _, r := range a.Hub().Status().Removed {
		if !strings.Contains(r.Reason, "another replica") {
			t.Errorf("removed %s: %s", r.Name, r.Reason)
		}
	}
	if got := storedEdges(t, shared); len(got) != 0 {
		t.Fatalf("stored registry %v, want empty", got)
	}
	pos := publish(t, a.Hub(), "I1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Hub().WaitApplied(ctx, pos); err != nil {
		t.Fatal(err)
	}
}
