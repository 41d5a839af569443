package e2e

// The fleet's failure rules, with real processes: `openfront serve
// --no-edge` as the control plane and `openfront edge` processes that are
// killed, stopped or cut off. An invalidation is Completed (a distribution
// Deployed) once every edge in the registry has acknowledged it; an edge
// disconnected longer than --edge-timeout leaves the registry; an edge
// that has not heard from the control plane for longer than
// --max-staleness answers 503 until it has caught up.

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/openfront/openfront/internal/testutil"
)

const fleetDist = "EFLEETDIST0001"

// fleetHost names fleetDist on the edges: its CloudFront-style domain.
var fleetHost = strings.ToLower(fleetDist) + ".cloudfront.localhost"

// fleetAlias names fleetDist too.
const fleetAlias = "www.fleet.test"

// fleetConfig declares fleetDist in front of o.
func fleetConfig(o *fleetOrigin) string {
	return fmt.Sprintf("distributions:\n  - id: %s\n    origin: %s\n    aliases: [%s]\n", fleetDist, o.URL, fleetAlias)
}

// stillInProgress checks, a few times over about a second, that the
// invalidation stays InProgress while edge is in the registry, pending.
func stillInProgress(t *testing.T, cp *fleetProc, c *cloudfront.Client, id, edge string) {
	t.Helper()
	checks := 0
	for range 5 {
		st := invalidationStatusOf(t, c, fleetDist, id)
		adm := invalidationOf(t, cp, fleetDist, id)
		// Read after the status: if the edge is still there, it was
		// when the status was read.
		if _, _, _, in := fleetOf(t, cp).edge(edge); !in {
			break
		}
		if st != "InProgress" {
			t.Fatalf("invalidation %s is %s while %s, which has not applied it, is in the registry", id, st, edge)
		}
		if !slices.Contains(adm.Pending, edge) {
			t.Fatalf("admin view of %s: %s not pending: %+v", id, edge, adm)
		}
		checks++
		// A negative (the invalidation does not complete while the edge
		// is away) is watched over a span of time: only a pause shows it.
		time.Sleep(250 * time.Millisecond)
	}
	if checks == 0 {
		// A machine so slow that the edge timeout passed before the
		// first check: nothing to check.
		t.Logf("%s left the registry before the invalidation could be checked", edge)
		return
	}
	t.Logf("%s InProgress at %d checks while %s was in the registry", id, checks, edge)
}

var caughtUpLine = regexp.MustCompile(`caught up with the control plane.* position=(\d+)`)

// caughtUpAt returns the position of the edge's last "caught up" log line
// in its current run.
func caughtUpAt(p *fleetProc) (uint64, bool) {
	m := caughtUpLine.FindAllStringSubmatch(p.runLogs(), -1)
	if len(m) == 0 {
		return 0, false
	}
	n, _ := strconv.ParseUint(m[len(m)-1][1], 10, 64)
	return n, true
}

// neverOldThenNew polls the edge until it serves fresh, failing if it ever
// serves old or anything but fresh and its 503; it returns whether it saw
// the 503.
func neverOldThenNew(t *testing.T, edge *fleetProc, host, path, old, fresh string) bool {
	t.Helper()
	saw503 := false
	fleetWaitFor(t, 30*time.Second, edge.name+" serving "+fresh, func() (bool, string) {
		r := viewEdge(edge.URL, host, path)
		switch {
		case r.err == nil && r.status == 200 && r.body == fresh:
			return true, ""
		case r.unavailable():
			saw503 = true
			return false, r.String()
		case r.err == nil && r.body == old:
			t.Fatalf("%s served the invalidated object: %v", edge.name, r)
		case r.err == nil:
			t.Fatalf("%s answered neither its 503 nor the new object: %v", edge.name, r)
		}
		return false, r.String()
	})
	return saw503
}

// 1. An invalidation is Completed once it took effect on every edge.
func TestFleetInvalidationReachesEveryEdge(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o)})
	names := []string{"edge-a", "edge-b", "edge-c"}
	var edges []*fleetProc
	for _, n := range names {
		edges = append(edges, startEdge(t, cp.URL, n, nil, "--max-staleness", "10s"))
	}
	waitInFleet(t, cp, names...)
	// The alias and the distribution's domain name both work.
	hosts := []string{fleetHost, fleetAlias, fleetHost}
	old := o.body("/index.html", 1)
	for i, e := range edges {
		warmEdge(t, e, hosts[i], "/index.html", old)
	}
	o.version.Store(2)
	for i, e := range edges {
		if r := viewEdge(e.URL, hosts[i], "/index.html"); r.status != 200 || r.body != old || r.xcache != "Hit from cloudfront" {
			t.Fatalf("%s before the invalidation: %v, want the cached %q", e.name, r, old)
		}
	}

	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "every-edge", "/index.html")
	waitCompleted(t, c, fleetDist, id, time.Minute)
	fresh := o.body("/index.html", 2)
	for i, e := range edges {
		// Completed: every edge has applied it already, no waiting.
		if r := viewEdge(e.URL, hosts[i], "/index.html"); r.status != 200 || r.body != fresh || r.xcache != "Miss from cloudfront" {
			t.Errorf("%s after Completed: %v, want a miss with %q", e.name, r, fresh)
		}
	}
	st := invalidationOf(t, cp, fleetDist, id)
	if st.Position == 0 || len(st.Pending) != 0 {
		t.Errorf("admin view: position %d, pending %v", st.Position, st.Pending)
	}
	for _, n := range names {
		if at, ok := st.Applied[n]; !ok || at.IsZero() {
			t.Errorf("admin view: applied_by lacks %s: %v", n, st.Applied)
		}
	}
	if len(st.Applied) != len(names) {
		t.Errorf("admin view: applied_by %v, want exactly %v", st.Applied, names)
	}
	s := fleetOf(t, cp)
	for _, n := range names {
		if connected, applied, lag, ok := s.edge(n); !ok || !connected || applied < st.Position || lag != 0 {
			t.Errorf("registry: %s: %s", n, s)
		}
	}
}

// 2. An edge that stops answering (SIGSTOP) leaves the registry after
// --edge-timeout (8s: time for a loaded machine to check the invalidation
// InProgress first, and edge-a's max staleness, capped at half of it,
// stays above a stall of a loaded CI machine), so that invalidations
// complete without it; continued, it must not serve what was invalidated
// meanwhile: cut off longer than --max-staleness, it answers 503 until it
// has caught up.
func TestFleetStoppedEdge(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", "8s"}})
	a := startEdge(t, cp.URL, "edge-a", nil, "--max-staleness", "10s")
	b := startEdge(t, cp.URL, "edge-b", nil, "--max-staleness", "1s")
	waitInFleet(t, cp, "edge-a", "edge-b")
	c := cp.client("", "")
	waitCompleted(t, c, fleetDist, fleetInvalidate(t, c, fleetDist, "start", "/*"), time.Minute)
	old, fresh := o.body("/page", 1), o.body("/page", 2)
	warmEdge(t, a, fleetHost, "/page", old)
	warmEdge(t, b, fleetHost, "/page", old)
	o.version.Store(2)

	b.pause()
	id := fleetInvalidate(t, c, fleetDist, "while-stopped", "/page")
	stillInProgress(t, cp, c, id, "edge-b")
	waitCompleted(t, c, fleetDist, id, 30*time.Second)
	s := fleetOf(t, cp)
	if _, _, _, in := s.edge("edge-b"); in || !s.removed("edge-b") {
		t.Errorf("registry after the edge timeout: %s", s)
	}
	if !strings.Contains(cp.runLogs(), "edge left the registry") || !strings.Contains(cp.runLogs(), "edge=edge-b") {
		t.Errorf("the control plane's log does not say edge-b left")
	}
	if r := viewEdge(a.URL, fleetHost, "/page"); r.status != 200 || r.body != fresh {
		t.Errorf("edge-a after Completed: %v", r)
	}

	b.resume()
	saw503 := neverOldThenNew(t, b, fleetHost, "/page", old, fresh)
	t.Logf("edge-b answered 503 before catching up: %v", saw503)
	waitInFleet(t, cp, "edge-a", "edge-b")
}

// 2a. An edge stopped for longer than its --max-staleness but not for the
// edge timeout stays in the registry (the invalidation waits for it); when
// it continues, the bytes its stream buffered meanwhile (pings, the event)
// do not make it fresh: it answers 503 or the new object, never the old
// one, until an acknowledgement sent after the lapse is accepted and it has
// applied the head that acknowledgement returned.
func TestFleetStoppedEdgeWithinTimeout(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", "60s"}})
	b := startEdge(t, cp.URL, "edge-b", nil, "--max-staleness", "1s")
	waitInFleet(t, cp, "edge-b")
	old, fresh := o.body("/paused", 1), o.body("/paused", 2)
	warmEdge(t, b, fleetHost, "/paused", old)
	o.version.Store(2)

	b.pause()
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "while-paused", "/paused")
	// Longer than edge-b's max staleness, far less than the edge timeout.
	stillInProgress(t, cp, c, id, "edge-b")
	// Not an ordering: the lapse itself is the scenario (edge-b stopped
	// for longer than its max staleness), so it is a span of time.
	time.Sleep(time.Second)
	b.resume()
	saw503 := neverOldThenNew(t, b, fleetHost, "/paused", old, fresh)
	t.Logf("edge-b answered 503 before catching up: %v", saw503)
	waitCompleted(t, c, fleetDist, id, 30*time.Second)
	if s := fleetOf(t, cp); s.removed("edge-b") {
		t.Errorf("edge-b left the registry within the edge timeout: %s", s)
	}
}

// 2b. The same rules with an edge cut off from its control plane by the
// network (a proxy that drops its connections) rather than stopped.
func TestFleetCutOffEdge(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", "8s"}})
	proxy := newTCPProxy(t, strings.TrimPrefix(cp.URL, "http://"))
	a := startEdge(t, cp.URL, "edge-a", nil, "--max-staleness", "10s")
	b := startEdge(t, proxy.URL(), "edge-b", nil, "--max-staleness", "1s")
	waitInFleet(t, cp, "edge-a", "edge-b")
	c := cp.client("", "")
	waitCompleted(t, c, fleetDist, fleetInvalidate(t, c, fleetDist, "start", "/*"), time.Minute)
	old, fresh := o.body("/page", 1), o.body("/page", 2)
	warmEdge(t, a, fleetHost, "/page", old)
	warmEdge(t, b, fleetHost, "/page", old)
	o.version.Store(2)

	proxy.setCut(true)
	id := fleetInvalidate(t, c, fleetDist, "while-cut", "/page")
	stillInProgress(t, cp, c, id, "edge-b")
	waitCompleted(t, c, fleetDist, id, 30*time.Second)
	s := fleetOf(t, cp)
	if _, _, _, in := s.edge("edge-b"); in || !s.removed("edge-b") {
		t.Errorf("registry after the edge timeout: %s", s)
	}
	if !strings.Contains(cp.runLogs(), "edge left the registry") || !strings.Contains(cp.runLogs(), "edge=edge-b") {
		t.Errorf("the control plane's log does not say edge-b left")
	}
	if r := viewEdge(a.URL, fleetHost, "/page"); r.status != 200 || r.body != fresh {
		t.Errorf("edge-a after Completed: %v", r)
	}
	// Completed without edge-b, which has been cut off for longer than
	// its --max-staleness: it must not answer from its cache.
	if r := viewEdge(b.URL, fleetHost, "/page"); !r.unavailable() || !strings.Contains(r.body, "The request could not be satisfied") {
		t.Fatalf("cut-off edge-b after Completed: %v, want its 503", r)
	}
	if r := viewEdge(b.URL, fleetHost, "/other"); !r.unavailable() {
		t.Errorf("cut-off edge-b, another path: %v, want its 503", r)
	}

	proxy.setCut(false)
	neverOldThenNew(t, b, fleetHost, "/page", old, fresh)
	if n, ok := caughtUpAt(b); !ok || n < invalidationOf(t, cp, fleetDist, id).Position {
		t.Errorf("edge-b serves again, but its log says it caught up at %d (%v)", n, ok)
	}
	waitInFleet(t, cp, "edge-a", "edge-b")
	if !strings.Contains(cp.runLogs(), `msg="edge joined the fleet" edge=edge-b`) {
		t.Errorf("the control plane's log does not say edge-b joined again")
	}
}

// 2c. An edge whose snapshot holds no distribution yet (loaded at the
// log's first position: what serve logged when it started, the managed
// policies) and that reconnects resumes from that position and applies
// what was logged meanwhile, rather than taking a new snapshot as if it
// had no state. Position 0 itself cannot be reached through serve, whose
// log is never empty: internal/fleet's TestStreamAtPositionZero and
// TestFollowerAtPositionZeroMissesNothing cover it.
func TestFleetEdgeAtPositionZero(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: "distributions: []\n", args: []string{"--edge-timeout", "60s"}})
	proxy := newTCPProxy(t, strings.TrimPrefix(cp.URL, "http://"))
	a := startEdge(t, cp.URL, "edge-a", nil, "--max-staleness", "10s")
	b := startEdge(t, proxy.URL(), "edge-b", nil, "--max-staleness", "10s")
	waitInFleet(t, cp, "edge-a", "edge-b")
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(b.runLogs(), `msg="loaded the control plane's snapshot" edge=edge-b distributions=0`)
	}, "edge-b's snapshot without distributions")

	proxy.setCut(true)
	c := cp.client("", "")
	id, host := createFleetDist(t, c, "fleet-at-zero", o)
	waitEdgeServes(t, a, host, "/page", o.body("/page", 1))
	proxy.setCut(false)
	w := cloudfront.NewDistributionDeployedWaiter(c, func(o *cloudfront.DistributionDeployedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 250*time.Millisecond
	})
	if err := w.Wait(ctx(t), &cloudfront.GetDistributionInput{Id: id}, 30*time.Second); err != nil {
		t.Fatalf("distribution not Deployed: %v", err)
	}
	for _, e := range []*fleetProc{a, b} {
		if r := viewEdge(e.URL, host, "/page"); r.status != 200 || r.body != o.body("/page", 1) {
			t.Errorf("%s once Deployed: %v", e.name, r)
		}
	}
	// Resumed from position 0: one snapshot in all, when it started.
	if n := strings.Count(b.runLogs(), "loaded the control plane's snapshot"); n != 1 {
		t.Errorf("edge-b loaded %d snapshots, want 1 (it resumes from position 0):\n%s", n, lastBytes(b.runLogs(), 3000))
	}
}

// 3. An edge killed and restarted under the same name has applied
// everything it missed before it serves from its cache. The invalidation
// created while it was dead completes once the killed process is surely
// stale (replaced, silent for half the edge timeout: see
// TestHostileFleetKilledEdgeRestartsSameName).
func TestFleetKilledEdgeRestarts(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", "60s"}})
	a := startEdge(t, cp.URL, "edge-a", nil, "--max-staleness", "10s")
	b := startEdge(t, cp.URL, "edge-b", nil, "--max-staleness", "10s")
	waitInFleet(t, cp, "edge-a", "edge-b")
	c := cp.client("", "")
	waitCompleted(t, c, fleetDist, fleetInvalidate(t, c, fleetDist, "start", "/*"), time.Minute)
	old, fresh := o.body("/doc", 1), o.body("/doc", 2)
	warmEdge(t, a, fleetAlias, "/doc", old)
	warmEdge(t, b, fleetAlias, "/doc", old)

	b.kill()
	fleetWaitFor(t, 10*time.Second, "edge-b disconnected", func() (bool, string) {
		s := fleetOf(t, cp)
		connected, _, _, in := s.edge("edge-b")
		return in && !connected, s.String()
	})
	o.version.Store(2)
	id := fleetInvalidate(t, c, fleetDist, "while-dead", "/doc")
	stillInProgress(t, cp, c, id, "edge-b")
	waitEdgeServes(t, a, fleetAlias, "/doc", fresh)
	pos := invalidationOf(t, cp, fleetDist, id).Position

	b.restart()
	neverOldThenNew(t, b, fleetAlias, "/doc", old, fresh)
	// It served: it had caught up with everything logged, the
	// invalidation included.
	fleetWaitFor(t, 10*time.Second, "edge-b's log saying it caught up", func() (bool, string) {
		_, ok := caughtUpAt(b)
		return ok, b.runLogs()
	})
	if n, _ := caughtUpAt(b); n < pos {
		t.Errorf("edge-b caught up at position %d, below the invalidation's %d", n, pos)
	}
	waitCompleted(t, c, fleetDist, id, 2*time.Minute)
	if r := viewEdge(b.URL, fleetAlias, "/doc"); r.status != 200 || r.body != fresh || r.xcache != "Hit from cloudfront" {
		t.Errorf("edge-b: %v", r)
	}
	fleetWaitFor(t, 10*time.Second, "edge-b acknowledging the head", func() (bool, string) {
		s := fleetOf(t, cp)
		connected, applied, lag, _ := s.edge("edge-b")
		return connected && lag == 0 && applied == s.Head, s.String()
	})
	if st := invalidationOf(t, cp, fleetDist, id); len(st.Pending) != 0 || st.Applied["edge-b"].IsZero() {
		t.Errorf("admin view: %+v", st)
	}
}

// 4. The control plane killed (SIGKILL) and restarted on the same port and
// data: positions survive, edges resume, and an invalidation left
// InProgress by the kill completes.
func TestFleetControlPlaneRestart(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	addr := fleetFreeAddr(t)
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--api-addr", addr, "--edge-timeout", "60s"}})
	names := []string{"edge-a", "edge-b", "edge-c"}
	edges := map[string]*fleetProc{}
	for _, n := range names {
		edges[n] = startEdge(t, cp.URL, n, nil, "--max-staleness", "3s")
	}
	a, b, e3 := edges["edge-a"], edges["edge-b"], edges["edge-c"]
	waitInFleet(t, cp, names...)
	c := cp.client("", "")
	waitCompleted(t, c, fleetDist, fleetInvalidate(t, c, fleetDist, "start", "/*"), time.Minute)
	for _, e := range edges {
		warmEdge(t, e, fleetHost, "/app.js", o.body("/app.js", 1))
	}

	// An invalidation edge-c (dead) keeps InProgress.
	e3.kill()
	o.version.Store(2)
	x := fleetInvalidate(t, c, fleetDist, "before-kill", "/app.js")
	stillInProgress(t, cp, c, x, "edge-c")
	waitEdgeServes(t, a, fleetHost, "/app.js", o.body("/app.js", 2))
	waitEdgeServes(t, b, fleetHost, "/app.js", o.body("/app.js", 2))
	// The registry is saved every second: wait until the saved positions
	// of the live edges are the ones they acknowledged, at the head.
	fleetWaitFor(t, 30*time.Second, "the registry saved edge-a's and edge-b's acknowledgements", func() (bool, string) {
		s := fleetOf(t, cp)
		n := 0
		for _, e := range s.Edges {
			if (e.Name == "edge-a" || e.Name == "edge-b") && e.Applied == s.Head && e.Saved == e.Applied {
				n++
			}
		}
		return n == 2, fmt.Sprintf("%+v", s)
	})
	before := fleetOf(t, cp)

	cp.kill()
	// Cut off for longer than --max-staleness, the edges stop serving.
	fleetWaitFor(t, 15*time.Second, "edge-a answering 503 without its control plane", func() (bool, string) {
		r := viewEdge(a.URL, fleetHost, "/app.js")
		return r.unavailable(), r.String()
	})
	cp.restart()
	if cp.URL != "http://"+addr {
		t.Fatalf("restarted on %s, want %s", cp.URL, addr)
	}
	c = cp.client("", "")
	after := fleetOf(t, cp)
	if after.Head < before.Head {
		t.Fatalf("head position went back from %d to %d", before.Head, after.Head)
	}
	if _, _, _, in := after.edge("edge-c"); !in {
		t.Fatalf("edge-c is not in the restored registry: %s", after)
	}
	if st := invalidationStatusOf(t, c, fleetDist, x); st != "InProgress" {
		t.Fatalf("invalidation %s is %s after the restart, with edge-c still away", x, st)
	}
	waitInFleet(t, cp, "edge-a", "edge-b")
	waitEdgeServes(t, a, fleetHost, "/app.js", o.body("/app.js", 2))

	e3.restart()
	waitCompleted(t, c, fleetDist, x, 30*time.Second)
	if r := viewEdge(e3.URL, fleetHost, "/app.js"); r.status != 200 || r.body != o.body("/app.js", 2) {
		t.Errorf("edge-c after Completed: %v", r)
	}
	// edge-a and edge-b applied it before the kill: the restarted hub
	// lists them too.
	if st := invalidationOf(t, cp, fleetDist, x); len(st.Pending) != 0 || len(st.Applied) != 3 || st.Applied["edge-c"].IsZero() ||
		st.Applied["edge-a"].IsZero() || st.Applied["edge-b"].IsZero() {
		t.Errorf("admin view of %s after the restart: %+v", x, st)
	}

	// Work logged after the restart reaches every edge.
	o.version.Store(3)
	y := fleetInvalidate(t, c, fleetDist, "after-restart", "/app.js")
	waitCompleted(t, c, fleetDist, y, 30*time.Second)
	for _, n := range names {
		if r := viewEdge(edges[n].URL, fleetHost, "/app.js"); r.status != 200 || r.body != o.body("/app.js", 3) {
			t.Errorf("%s after the second invalidation: %v", n, r)
		}
	}
	st := invalidationOf(t, cp, fleetDist, y)
	if st.Position <= before.Head || len(st.Pending) != 0 || len(st.Applied) != 3 {
		t.Errorf("admin view of %s: %+v (head before the kill %d)", y, st, before.Head)
	}
	waitInFleet(t, cp, names...)
}

// 5. A distribution's new configuration is Deployed only once every edge
// runs it, and the edges serve per that configuration.
func TestFleetDistributionUpdate(t *testing.T) {
	one, two := newFleetOrigin(t, "origin-one"), newFleetOrigin(t, "origin-two")
	cp := startControlPlane(t, options{config: "distributions: []\n", args: []string{"--edge-timeout", "60s"}})
	a := startEdge(t, cp.URL, "edge-a", nil, "--max-staleness", "10s")
	b := startEdge(t, cp.URL, "edge-b", nil, "--max-staleness", "10s")
	waitInFleet(t, cp, "edge-a", "edge-b")
	c := cp.client("", "")
	id, host := createFleetDist(t, c, "fleet-update", one)
	deployed := func(max time.Duration) {
		t.Helper()
		w := cloudfront.NewDistributionDeployedWaiter(c, func(o *cloudfront.DistributionDeployedWaiterOptions) {
			o.MinDelay, o.MaxDelay = 100*time.Millisecond, 250*time.Millisecond
		})
		if err := w.Wait(ctx(t), &cloudfront.GetDistributionInput{Id: id}, max); err != nil {
			t.Fatalf("distribution not Deployed: %v", err)
		}
	}
	update := func(change func(*types.DistributionConfig)) {
		t.Helper()
		g, err := c.GetDistributionConfig(ctx(t), &cloudfront.GetDistributionConfigInput{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		change(g.DistributionConfig)
		if _, err := c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: id, IfMatch: g.ETag, DistributionConfig: g.DistributionConfig}); err != nil {
			t.Fatalf("UpdateDistribution: %v", err)
		}
	}
	deployed(time.Minute)
	for _, e := range []*fleetProc{a, b} {
		if r := viewEdge(e.URL, host, "/one"); r.status != 200 || r.body != one.body("/one", 1) {
			t.Fatalf("%s once Deployed: %v", e.name, r)
		}
	}

	// A new origin port while edge-b is dead (and in the registry).
	b.kill()
	update(func(d *types.DistributionConfig) {
		d.Origins.Items[0].CustomOriginConfig.HTTPPort = aws.Int32(int32(two.port()))
	})
	for range 4 {
		g, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		if *g.Distribution.Status != "InProgress" {
			t.Fatalf("Status %s while edge-b, in the registry, has not applied the change", *g.Distribution.Status)
		}
		time.Sleep(250 * time.Millisecond) // a negative watched over a span of time

	}
	waitEdgeServes(t, a, host, "/two", two.body("/two", 1))
	b.restart()
	deployed(30 * time.Second)
	for _, e := range []*fleetProc{a, b} {
		if r := viewEdge(e.URL, host, "/three"); r.status != 200 || r.body != two.body("/three", 1) {
			t.Errorf("%s once the new origin is Deployed: %v", e.name, r)
		}
	}

	// Disabled: every edge answers CloudFront's 403, cached objects too.
	update(func(d *types.DistributionConfig) { d.Enabled = aws.Bool(false) })
	deployed(30 * time.Second)
	for _, e := range []*fleetProc{a, b} {
		for _, path := range []string{"/one", "/three"} {
			if r := viewEdge(e.URL, host, path); r.status != 403 || r.xcache != "Error from cloudfront" || !strings.Contains(r.body, "The request could not be satisfied") {
				t.Errorf("%s %s once disabled: %v", e.name, path, r)
			}
		}
	}
}

// 6. With authentication on, an edge must sign with a valid key: with the
// wrong secret it never becomes fresh and never joins the registry.
func TestFleetAuth(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	creds := `credentials:
  - access_key_id: AKIDFLEETEDGE
    secret_access_key: fleet-edge-secret
  - access_key_id: AKIDLIMITED
    secret_access_key: limited-secret
    distributions: [` + fleetDist + `]
`
	cp := startControlPlane(t, options{config: fleetConfig(o) + creds})
	keys := func(id, secret string) []string {
		return []string{"OPENFRONT_ACCESS_KEY_ID=" + id, "OPENFRONT_SECRET_ACCESS_KEY=" + secret}
	}
	good := startEdge(t, cp.URL, "edge-good", keys("AKIDFLEETEDGE", "fleet-edge-secret"), "--max-staleness", "10s")
	bad := startEdge(t, cp.URL, "edge-bad", keys("AKIDFLEETEDGE", "wrong-secret"))
	unknown := startEdge(t, cp.URL, "edge-unknown", keys("AKIDNOSUCHKEY", "fleet-edge-secret"))
	limited := startEdge(t, cp.URL, "edge-limited", keys("AKIDLIMITED", "limited-secret"))
	unsigned := startEdge(t, cp.URL, "edge-unsigned", nil)
	refused := []*fleetProc{bad, unknown, limited, unsigned}

	if status, body := adminGet(t, cp, "/openfront/v1/admin/edges", "", ""); status != 403 {
		t.Errorf("unsigned admin request: %d %s", status, body)
	}
	if status, body := adminGet(t, cp, "/openfront/v1/admin/edges", "AKIDFLEETEDGE", "wrong-secret"); status != 403 {
		t.Errorf("admin request with a wrong secret: %d %s", status, body)
	}
	fleetWaitFor(t, 30*time.Second, "edge-good in the registry", func() (bool, string) {
		s := signedFleetOf(t, cp, "AKIDFLEETEDGE", "fleet-edge-secret")
		connected, _, lag, ok := s.edge("edge-good")
		return ok && connected && lag == 0, s.String()
	})
	old, fresh := o.body("/auth", 1), o.body("/auth", 2)
	warmEdge(t, good, fleetHost, "/auth", old)

	// The refused edges have tried, and failed, more than once.
	for _, e := range refused {
		fleetWaitFor(t, 20*time.Second, e.name+" refused twice", func() (bool, string) {
			return strings.Count(e.runLogs(), "stream: 403") >= 2, lastBytes(e.runLogs(), 2000)
		})
	}
	for _, e := range refused {
		if r := viewEdge(e.URL, fleetHost, "/auth"); !r.unavailable() {
			t.Errorf("%s: %v, want its 503", e.name, r)
		}
	}
	logs := map[*fleetProc]string{bad: "SignatureDoesNotMatch", unknown: "InvalidClientTokenId", limited: "AccessDenied", unsigned: "MissingAuthenticationToken"}
	for e, code := range logs {
		if !strings.Contains(e.runLogs(), code) {
			t.Errorf("%s's log does not say %s:\n%s", e.name, code, lastBytes(e.runLogs(), 2000))
		}
	}

	c := cp.client("AKIDFLEETEDGE", "fleet-edge-secret")
	o.version.Store(2)
	id := fleetInvalidate(t, c, fleetDist, "auth", "/auth")
	waitCompleted(t, c, fleetDist, id, 30*time.Second)
	if r := viewEdge(good.URL, fleetHost, "/auth"); r.status != 200 || r.body != fresh {
		t.Errorf("edge-good after Completed: %v", r)
	}
	s := signedFleetOf(t, cp, "AKIDFLEETEDGE", "fleet-edge-secret")
	if len(s.Edges) != 1 {
		t.Errorf("registry: %s, want edge-good alone", s)
	}
	for _, e := range refused {
		if r := viewEdge(e.URL, fleetHost, "/auth"); !r.unavailable() {
			t.Errorf("%s: %v, want its 503", e.name, r)
		}
	}
}

// 4b. The control plane restarted with a changed configuration file: the
// edges that kept running serve the distributions the file now declares.
func TestFleetConfigFileChangeReachesRunningEdges(t *testing.T) {
	one, two := newFleetOrigin(t, "origin-one"), newFleetOrigin(t, "origin-two")
	addr := fleetFreeAddr(t)
	cp := startControlPlane(t, options{config: fleetConfig(one), args: []string{"--api-addr", addr, "--edge-timeout", "60s"}})
	a := startEdge(t, cp.URL, "edge-a", nil, "--max-staleness", "10s")
	waitInFleet(t, cp, "edge-a")
	c := cp.client("", "")
	waitCompleted(t, c, fleetDist, fleetInvalidate(t, c, fleetDist, "start", "/*"), time.Minute)
	waitEdgeServes(t, a, fleetHost, "/x", one.body("/x", 1))

	cp.kill()
	const added = "EFLEETDIST0002"
	cfg := fmt.Sprintf("distributions:\n  - id: %s\n    origin: %s\n  - id: %s\n    origin: %s\n    aliases: [added.fleet.test]\n",
		fleetDist, two.URL, added, one.URL)
	for i, arg := range cp.args {
		if arg == "--config" {
			if err := os.WriteFile(cp.args[i+1], []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cp.restart()
	waitInFleet(t, cp, "edge-a")
	// What the in-process edge of a restarted `serve` would serve.
	waitEdgeServes(t, a, fleetHost, "/y", two.body("/y", 1))
	waitEdgeServes(t, a, "added.fleet.test", "/z", one.body("/z", 1))
}

// An edge given several control-plane URLs (replicas) follows a live one:
// the first listed is dead (nothing listens there), and the edge, whichever
// it starts with, ends up on the live one, joins the fleet, and applies an
// invalidation, which completes.
func TestFleetEdgeWithReplicaURLs(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o)})
	dead := "http://" + fleetFreeAddr(t)
	e := startEdge(t, dead+","+cp.URL, "edge-r", nil, "--max-staleness", "10s")
	waitInFleet(t, cp, "edge-r")
	old := o.body("/index.html", 1)
	warmEdge(t, e, fleetHost, "/index.html", old)
	o.version.Store(2)
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "replica-urls", "/index.html")
	waitCompleted(t, c, fleetDist, id, time.Minute)
	if r := viewEdge(e.URL, fleetHost, "/index.html"); r.status != 200 || r.body != o.body("/index.html", 2) {
		t.Fatalf("after Completed: %v", r)
	}
}
