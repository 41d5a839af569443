package e2e

// Edges that leave, control planes that restart without their in-process
// edge, and edges that claim a name already taken, with real processes.
// The control plane runs with --edge-timeout 10m: an invalidation that
// completes within these tests did not wait for an edge to expire.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// longEdgeTimeout is far longer than any of these tests may run.
const longEdgeTimeout = "10m"

// registryEdge is one edge of the admin view, with what these tests read.
type registryEdge struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Connected bool   `json:"connected"`
	InProcess bool   `json:"in_process"`
	Lag       uint64 `json:"lag"`
}

type registryView struct {
	Edges   []registryEdge `json:"edges"`
	Removed []struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	} `json:"removed_edges"`
}

func registryOf(t *testing.T, cp *fleetProc) (registryView, string) {
	t.Helper()
	status, body := adminGet(t, cp, "/openfront/v1/admin/edges", "", "")
	if status != 200 {
		t.Fatalf("admin edges: %d %s", status, body)
	}
	var v registryView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("admin edges: %v: %s", err, body)
	}
	return v, string(body)
}

func (v registryView) edge(name string) (registryEdge, bool) {
	for _, e := range v.Edges {
		if e.Name == name {
			return e, true
		}
	}
	return registryEdge{}, false
}

// removedFor returns the reason the registry gave for dropping name last.
func (v registryView) removedFor(name string) (string, bool) {
	for i := len(v.Removed) - 1; i >= 0; i-- {
		if v.Removed[i].Name == name {
			return v.Removed[i].Reason, true
		}
	}
	return "", false
}

// waitExited waits for p to exit and returns how it exited.
func waitExited(t *testing.T, p *fleetProc) error {
	t.Helper()
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not exit\n%s", p.name, lastBytes(p.runLogs(), 4000))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// completesWithout creates an invalidation and waits for it to complete
// (far sooner than the edge timeout), then checks that gone was not
// among the edges it waited for.
func completesWithout(t *testing.T, cp *fleetProc, ref, gone string) {
	t.Helper()
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, ref, "/*")
	waitCompleted(t, c, fleetDist, id, time.Minute)
	st := invalidationOf(t, cp, fleetDist, id)
	if len(st.Pending) != 0 {
		t.Errorf("invalidation %s Completed with pending edges %v", id, st.Pending)
	}
	if _, ok := st.Applied[gone]; ok {
		t.Errorf("invalidation %s: applied_by lists %s, which was gone before it was created: %v", id, gone, st.Applied)
	}
}

// An edge stopped with SIGTERM leaves the registry before it exits: an
// invalidation created after it exited completes without waiting for the
// edge timeout.
func TestHostileFleetStoppedEdgeLeaves(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", longEdgeTimeout}})
	startEdge(t, cp.URL, "edge-a", nil)
	b := startEdge(t, cp.URL, "edge-b", nil)
	waitInFleet(t, cp, "edge-a", "edge-b")

	b.signal(syscall.SIGTERM)
	if err := waitExited(t, b); err != nil {
		t.Fatalf("edge-b after SIGTERM: %v\n%s", err, b.runLogs())
	}
	if !strings.Contains(b.runLogs(), "left the control plane's registry") {
		t.Errorf("edge-b's log does not say it left the registry:\n%s", b.runLogs())
	}
	v, body := registryOf(t, cp)
	if _, in := v.edge("edge-b"); in {
		t.Fatalf("edge-b still in the registry after it exited: %s", body)
	}
	if reason, ok := v.removedFor("edge-b"); !ok || !strings.Contains(reason, "left the fleet") {
		t.Errorf("removed_edges: %s", body)
	}
	completesWithout(t, cp, "after-sigterm", "edge-b")
	if e, in := v.edge("edge-a"); !in || !e.Connected {
		t.Errorf("edge-a: %s", body)
	}
}

// An edge whose control plane does not answer when it is stopped still
// exits within its --shutdown-timeout (the control plane then drops it
// after its edge timeout).
func TestHostileFleetStoppedEdgeControlPlaneUnreachable(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", longEdgeTimeout}})
	a := startEdge(t, cp.URL, "edge-a", nil, "--shutdown-timeout", "2s")
	waitInFleet(t, cp, "edge-a")
	cp.pause() // accepts connections (the kernel does), answers nothing
	defer cp.resume()
	a.signal(syscall.SIGTERM)
	if err := waitExited(t, a); err != nil {
		t.Fatalf("edge-a after SIGTERM: %v\n%s", err, a.runLogs())
	}
	if !strings.Contains(a.runLogs(), "could not leave the control plane's registry") {
		t.Errorf("edge-a's log does not say it could not leave:\n%s", a.runLogs())
	}
}

// startServeWithEdge starts `openfront serve` with its in-process edge
// (named local) on dataDir.
func startServeWithEdge(t *testing.T, config, dataDir string) *fleetProc {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "openfront.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--config", cfgPath, "--api-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0",
		"--data-dir", dataDir, "--edge-timeout", longEdgeTimeout}
	return startFleetProc(t, "serve", "openfront API listening on ", args, nil)
}

// A control plane restarted with its in-process edge keeps it in the
// registry; restarted with --no-edge, it drops it at start, so that
// invalidations do not wait for an edge that no longer runs.
func TestHostileFleetRestartWithoutInProcessEdge(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	dir := t.TempDir()
	inProcessLive := func(cp *fleetProc) {
		t.Helper()
		fleetWaitFor(t, 30*time.Second, "the in-process edge connected with lag 0", func() (bool, string) {
			v, body := registryOf(t, cp)
			e, in := v.edge("local")
			return in && e.Connected && e.Lag == 0, body
		})
		if v, body := registryOf(t, cp); !func() bool { e, _ := v.edge("local"); return e.InProcess }() {
			t.Errorf("the in-process edge is not marked so: %s", body)
		}
	}
	stop := func(cp *fleetProc) {
		t.Helper()
		cp.signal(syscall.SIGTERM)
		if err := waitExited(t, cp); err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	}

	cp := startServeWithEdge(t, fleetConfig(o), dir)
	inProcessLive(cp)
	stop(cp)

	cp = startServeWithEdge(t, fleetConfig(o), dir)
	inProcessLive(cp)
	if v, body := registryOf(t, cp); len(v.Edges) != 1 {
		t.Errorf("registry after a restart with the in-process edge: %s", body)
	}
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "with-edge", "/*")
	waitCompleted(t, c, fleetDist, id, time.Minute)
	if st := invalidationOf(t, cp, fleetDist, id); st.Applied["local"].IsZero() {
		t.Errorf("the in-process edge did not apply %s: %+v", id, st)
	}
	stop(cp)

	cp = startControlPlane(t, options{config: fleetConfig(o), dataDir: dir, args: []string{"--edge-timeout", longEdgeTimeout}})
	v, body := registryOf(t, cp)
	if _, in := v.edge("local"); in {
		t.Fatalf("the previous run's in-process edge is in the registry of a control plane without one: %s", body)
	}
	if reason, ok := v.removedFor("local"); !ok || !strings.Contains(reason, "without this in-process edge") {
		t.Errorf("removed_edges: %s", body)
	}
	completesWithout(t, cp, "no-edge", "local")
}

// A second process with the name of a live edge is refused: it exits
// non-zero saying why, and the first keeps its place and its work.
func TestHostileFleetTwoEdgesOneName(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", longEdgeTimeout}})
	a := startEdge(t, cp.URL, "edge-a", nil)
	waitInFleet(t, cp, "edge-a")
	old, fresh := o.body("/twice", 1), o.body("/twice", 2)
	warmEdge(t, a, fleetHost, "/twice", old)

	second := startEdge(t, cp.URL, "edge-a", nil)
	err := waitExited(t, second)
	if err == nil {
		t.Fatalf("a second edge-a exited 0:\n%s", second.runLogs())
	}
	if logs := second.runLogs(); !strings.Contains(logs, "openfront edge: edge edge-a is already in the fleet") {
		t.Errorf("the second edge-a (%v) does not say why:\n%s", err, logs)
	}
	v, body := registryOf(t, cp)
	if e, in := v.edge("edge-a"); !in || !e.Connected || e.Addr != a.URL || len(v.Edges) != 1 {
		t.Errorf("registry after the second edge-a was refused: %s", body)
	}
	if _, ok := v.removedFor("edge-a"); ok {
		t.Errorf("edge-a was dropped: %s", body)
	}

	o.version.Store(2)
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "two-names", "/twice")
	waitCompleted(t, c, fleetDist, id, time.Minute)
	if r := viewEdge(a.URL, fleetHost, "/twice"); r.status != 200 || r.body != fresh {
		t.Errorf("edge-a after Completed: %v", r)
	}
}

// replacedOf returns the registry key of name's replaced process, if the
// registry holds one.
func (v registryView) replacedOf(name string) (string, bool) {
	for _, e := range v.Edges {
		if strings.HasPrefix(e.Name, name+"#") {
			return e.Name, true
		}
	}
	return "", false
}

// An edge killed with SIGKILL and restarted with the same name takes its
// place at once (the control plane saw the old process's stream close, so
// it no longer counts it live), and serves. The control plane cannot tell
// a killed process from one cut off by the network, so work waits for the
// old one, kept as replaced, until it is surely stale (silent for half
// the edge timeout): Completed accounts for both.
func TestHostileFleetKilledEdgeRestartsSameName(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", "20s"}})
	startEdge(t, cp.URL, "edge-a", nil)
	b := startEdge(t, cp.URL, "edge-b", nil)
	waitInFleet(t, cp, "edge-a", "edge-b")
	old, fresh := o.body("/killed", 1), o.body("/killed", 2)
	warmEdge(t, b, fleetHost, "/killed", old)

	b.kill()
	b.restart()
	waitInFleet(t, cp, "edge-a", "edge-b")
	if strings.Contains(b.runLogs(), "already in the fleet") {
		t.Logf("the restarted edge-b was refused before it got in:\n%s", b.runLogs())
	}
	o.version.Store(2)
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "after-kill", "/killed")
	v, body := registryOf(t, cp)
	ghost, ok := v.replacedOf("edge-b")
	checks := 0
	for ok {
		// The status first: if the replaced process is still in the
		// registry after it, it was when the status was read.
		st := invalidationStatusOf(t, c, fleetDist, id)
		adm := invalidationOf(t, cp, fleetDist, id)
		v, body = registryOf(t, cp)
		if _, ok = v.replacedOf("edge-b"); !ok {
			break
		}
		if st != "InProgress" || !slices.Contains(adm.Pending, ghost) {
			t.Fatalf("invalidation %s is %s (pending %v) while the killed edge-b (%s) is in the registry: %s", id, st, adm.Pending, ghost, body)
		}
		checks++
		if checks == 3 {
			break
		}
		time.Sleep(250 * time.Millisecond) // a negative watched over a span of time
	}
	if checks == 0 {
		if reason, gone := v.removedFor(ghost); ghost == "" || !gone || !strings.Contains(reason, "replaced") {
			t.Fatalf("no replaced edge-b in the registry after the restart: %s", body)
		}
		t.Logf("the killed edge-b left the registry before the invalidation could be checked")
	}
	waitEdgeServes(t, b, fleetHost, "/killed", fresh)
	waitCompleted(t, c, fleetDist, id, time.Minute)
	v, body = registryOf(t, cp)
	if reason, gone := v.removedFor(ghost); !gone || !strings.Contains(reason, "silent for half the edge timeout") {
		t.Errorf("removed_edges after Completed: %s", body)
	}
	if st := invalidationOf(t, cp, fleetDist, id); st.Applied["edge-b"].IsZero() || len(st.Pending) != 0 {
		t.Errorf("admin view: %+v", st)
	}
}

// An edge that went silent with its stream open (stopped with SIGSTOP, as
// a host that died without closing its connections) stops being live:
// a new process with its name takes its place. The old one, continued,
// is refused and exits non-zero, never serving what was invalidated
// after it was replaced.
func TestHostileFleetSilentEdgeReplaced(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	// edge-b's max staleness is capped at 4s, half the edge timeout: the
	// replaced process is surely stale once silent for that long.
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--edge-timeout", "8s"}})
	b := startEdge(t, cp.URL, "edge-b", nil, "--max-staleness", "10s")
	waitInFleet(t, cp, "edge-b")
	old, fresh := o.body("/silent", 1), o.body("/silent", 2)
	warmEdge(t, b, fleetHost, "/silent", old)

	b.pause()
	nb := startEdge(t, cp.URL, "edge-b", nil)
	fleetWaitFor(t, 30*time.Second, "the new edge-b in the registry", func() (bool, string) {
		v, body := registryOf(t, cp)
		e, in := v.edge("edge-b")
		return in && e.Connected && e.Addr == nb.URL && e.Lag == 0, body
	})
	o.version.Store(2)
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "replaced", "/silent")
	waitCompleted(t, c, fleetDist, id, time.Minute)
	waitEdgeServes(t, nb, fleetHost, "/silent", fresh)

	b.resume()
	// Until it exits, the old edge-b answers 503 or the new object: its
	// acknowledgements are refused.
	b.mu.Lock()
	exited := b.exited
	b.mu.Unlock()
	deadline := time.After(60 * time.Second)
	for gone := false; !gone; {
		if r := viewEdge(b.URL, fleetHost, "/silent"); r.err == nil && r.body == old {
			t.Fatalf("the replaced edge-b served the invalidated object: %v", r)
		}
		select {
		case <-exited:
			gone = true
		case <-deadline:
			t.Fatalf("the replaced edge-b did not exit:\n%s", lastBytes(b.runLogs(), 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := waitExited(t, b); err == nil {
		t.Errorf("the replaced edge-b exited 0:\n%s", b.runLogs())
	}
	if logs := b.runLogs(); !strings.Contains(logs, "edge edge-b is already in the fleet") {
		t.Errorf("the replaced edge-b does not say why it stopped:\n%s", logs)
	}
	if e, in := func() (registryEdge, bool) { v, _ := registryOf(t, cp); return v.edge("edge-b") }(); !in || e.Addr != nb.URL {
		t.Errorf("registry after the old edge-b exited: %+v", e)
	}
}
