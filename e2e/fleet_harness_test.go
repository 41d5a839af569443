package e2e

// Helpers of the fleet tests: `openfront serve --no-edge` and `openfront
// edge` processes that can be killed, stopped, continued and restarted, a
// TCP proxy that cuts an edge off from its control plane, an origin whose
// content changes, viewer requests and the admin endpoints.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/openfront/openfront/internal/testutil"
)

// fleetProc is one openfront process: a control plane (`serve`) or an edge.
type fleetProc struct {
	t     *testing.T
	name  string
	args  []string
	env   []string
	ready string // stdout prefix followed by the process's URL

	mu      sync.Mutex
	cmd     *exec.Cmd
	URL     string
	stderr  *testutil.SyncBuffer // this run's
	earlier string               // stderr of earlier runs
	exited  chan struct{}
	exitErr error
}

// lineWatcher is a process's stdout: it reports the URL printed after prefix.
type lineWatcher struct {
	prefix string
	urlc   chan string
	buf    []byte
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if u, ok := strings.CutPrefix(line, w.prefix); ok {
			select {
			case w.urlc <- strings.TrimSpace(u):
			default:
			}
		}
	}
}

func startFleetProc(t *testing.T, name, ready string, args, env []string) *fleetProc {
	t.Helper()
	p := &fleetProc{t: t, name: name, args: args, env: env, ready: ready}
	p.start()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s stderr (last 6000 bytes):\n%s", name, lastBytes(p.logs(), 6000))
		}
	})
	return p
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (p *fleetProc) start() {
	t := p.t
	t.Helper()
	cmd := exec.Command(binary, p.args...)
	// The fleet's credentials come from the environment: only what the
	// test gives.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENFRONT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, p.env...)
	w := &lineWatcher{prefix: p.ready, urlc: make(chan string, 1)}
	stderr := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = w, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	if p.stderr != nil {
		p.earlier += p.stderr.String() + "---- restarted ----\n"
	}
	p.cmd, p.stderr, p.exited = cmd, stderr, exited
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	select {
	case u := <-w.urlc:
		p.mu.Lock()
		p.URL = u
		p.mu.Unlock()
	case <-exited:
		t.Fatalf("%s exited before listening: %v\n%s", p.name, p.exitErr, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start listening\n%s", p.name, stderr)
	}
}

// logs returns everything the process wrote on stderr, over all its runs.
func (p *fleetProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stderr == nil {
		return p.earlier
	}
	return p.earlier + p.stderr.String()
}

// runLogs returns what the current run wrote on stderr.
func (p *fleetProc) runLogs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *fleetProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
}

// kill sends SIGKILL (which also ends a stopped process) and waits for the
// process to die.
func (p *fleetProc) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// pause stops the process with SIGSTOP: its sockets stay open, it reads
// and answers nothing.
func (p *fleetProc) pause() { p.signal(syscall.SIGSTOP) }

// resume continues a paused process with SIGCONT.
func (p *fleetProc) resume() { p.signal(syscall.SIGCONT) }

// restart starts the process again with the same flags (an edge on the
// same address); it must have exited.
func (p *fleetProc) restart() {
	p.t.Helper()
	select {
	case <-p.exited:
	default:
		p.t.Fatalf("%s: restart while running", p.name)
	}
	p.start()
}

// client returns an aws-sdk-go-v2 CloudFront client for a control plane.
func (p *fleetProc) client(keyID, secret string) *cloudfront.Client {
	return (&server{URL: p.URL}).client(keyID, secret)
}

// fleetFreeAddr returns a loopback address nothing listens on, to start a
// process on a port known in advance (so that it can restart on it).
func fleetFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startControlPlane starts `openfront serve --no-edge`: the control plane
// alone, API on a free port unless o.args says --api-addr.
func startControlPlane(t *testing.T, o options) *fleetProc {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	cfgPath := filepath.Join(t.TempDir(), "openfront.yaml")
	if err := os.WriteFile(cfgPath, []byte(o.config), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--no-edge", "--config", cfgPath, "--api-addr", "127.0.0.1:0", "--data-dir", o.dataDir}, o.args...)
	return startFleetProc(t, "serve", "openfront API listening on ", args, o.env)
}

// startEdge starts `openfront edge` named name following controlPlane, on
// a free port that restarts keep.
func startEdge(t *testing.T, controlPlane, name string, env []string, extra ...string) *fleetProc {
	t.Helper()
	args := append([]string{"edge", "--control-plane", controlPlane, "--name", name, "--edge-addr", "127.0.0.1:0"}, extra...)
	p := startFleetProc(t, "edge "+name, "openfront edge listening on ", args, env)
	for i, a := range p.args {
		if a == "--edge-addr" && i+1 < len(p.args) {
			p.args[i+1] = strings.TrimPrefix(p.URL, "http://")
		}
	}
	return p
}

// fleetOrigin is an HTTP origin whose content changes with its version.
type fleetOrigin struct {
	*httptest.Server
	name    string
	version atomic.Int64
	hits    atomic.Int64
}

func newFleetOrigin(t *testing.T, name string) *fleetOrigin {
	o := &fleetOrigin{name: name}
	o.version.Store(1)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, o.body(r.URL.Path, o.version.Load()))
	}))
	t.Cleanup(o.Close)
	return o
}

// body is what the origin answers for path at version v.
func (o *fleetOrigin) body(path string, v int64) string {
	return fmt.Sprintf("%s %s v%d", o.name, path, v)
}

// port is the origin's TCP port.
func (o *fleetOrigin) port() int {
	return o.Listener.Addr().(*net.TCPAddr).Port
}

// viewerResponse is an edge's answer to a viewer.
type viewerResponse struct {
	status int
	body   string
	xcache string
	err    error
}

func (r viewerResponse) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("%d %q (X-Cache: %s)", r.status, lastBytes(r.body, 120), r.xcache)
}

var viewerClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// viewEdge sends GET path to the edge at edgeURL for the distribution named by
// host.
func viewEdge(edgeURL, host, path string) viewerResponse {
	req, err := http.NewRequest("GET", edgeURL+path, nil)
	if err != nil {
		return viewerResponse{err: err}
	}
	req.Host = host
	resp, err := viewerClient.Do(req)
	if err != nil {
		return viewerResponse{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return viewerResponse{status: resp.StatusCode, body: string(b), xcache: resp.Header.Get("X-Cache"), err: err}
}

// unavailable reports whether r is the 503 of an edge that is not caught
// up with its control plane.
func (r viewerResponse) unavailable() bool {
	return r.err == nil && r.status == http.StatusServiceUnavailable && r.xcache == "Error from cloudfront"
}

// fleetWaitFor polls cond every 50ms until it holds or timeout passes.
func fleetWaitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s: %s", timeout, what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEdgeServes waits until the edge answers path with want (a 200).
func waitEdgeServes(t *testing.T, edge *fleetProc, host, path, want string) {
	t.Helper()
	fleetWaitFor(t, 30*time.Second, edge.name+" serving "+want, func() (bool, string) {
		r := viewEdge(edge.URL, host, path)
		return r.err == nil && r.status == 200 && r.body == want, r.String()
	})
}

// warmEdge requests path until the edge answers it from its cache.
func warmEdge(t *testing.T, edge *fleetProc, host, path, want string) {
	t.Helper()
	fleetWaitFor(t, 30*time.Second, edge.name+" answering "+path+" from its cache", func() (bool, string) {
		r := viewEdge(edge.URL, host, path)
		return r.err == nil && r.status == 200 && r.body == want && r.xcache == "Hit from cloudfront", r.String()
	})
}

// fleetStatus is GET /openfront/v1/admin/edges.
type fleetStatus struct {
	Head  uint64 `json:"head_position"`
	Edges []struct {
		Name      string    `json:"name"`
		Addr      string    `json:"addr"`
		Connected bool      `json:"connected"`
		LastSeen  time.Time `json:"last_seen"`
		Applied   uint64    `json:"applied_position"`
		Saved     uint64    `json:"saved_position"`
		Lag       uint64    `json:"lag"`
		Replica   string    `json:"replica"`
		Self      bool      `json:"self"`
	} `json:"edges"`
	Removed []struct {
		Name    string    `json:"name"`
		At      time.Time `json:"at"`
		Applied uint64    `json:"applied"`
		Reason  string    `json:"reason"`
	} `json:"removed_edges"`
}

// edge returns the registry's record of the edge named name.
func (s fleetStatus) edge(name string) (connected bool, applied, lag uint64, ok bool) {
	for _, e := range s.Edges {
		if e.Name == name {
			return e.Connected, e.Applied, e.Lag, true
		}
	}
	return false, 0, 0, false
}

func (s fleetStatus) removed(name string) bool {
	for _, e := range s.Removed {
		if e.Name == name {
			return true
		}
	}
	return false
}

func (s fleetStatus) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// invalidationStatus is GET /openfront/v1/admin/invalidations/{dist}/{id}.
type invalidationStatus struct {
	Position uint64               `json:"position"`
	Applied  map[string]time.Time `json:"applied_by"`
	Pending  []string             `json:"pending"`
}

// adminGet GETs an admin path of the control plane, signed when keyID is
// set, and returns the status and body.
func adminGet(t *testing.T, cp *fleetProc, path, keyID, secret string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", cp.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if keyID != "" {
		sum := sha256.Sum256(nil)
		if err := v4.NewSigner().SignHTTP(ctx(t), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "cloudfront", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := viewerClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// fleetOf returns the control plane's registry (admin view, unsigned: open mode).
func fleetOf(t *testing.T, cp *fleetProc) fleetStatus {
	t.Helper()
	return signedFleetOf(t, cp, "", "")
}

func signedFleetOf(t *testing.T, cp *fleetProc, keyID, secret string) fleetStatus {
	t.Helper()
	status, body := adminGet(t, cp, "/openfront/v1/admin/edges", keyID, secret)
	if status != 200 {
		t.Fatalf("admin edges: %d %s", status, body)
	}
	var s fleetStatus
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("admin edges: %v: %s", err, body)
	}
	return s
}

func invalidationOf(t *testing.T, cp *fleetProc, dist, id string) invalidationStatus {
	t.Helper()
	var status int
	var body []byte
	// CreateInvalidation answers before the invalidation is logged for
	// the fleet; until then the view is a 404.
	fleetWaitFor(t, 10*time.Second, "invalidation "+id+" in the admin view", func() (bool, string) {
		status, body = adminGet(t, cp, "/openfront/v1/admin/invalidations/"+dist+"/"+id, "", "")
		return status != 404, string(body)
	})
	if status != 200 {
		t.Fatalf("admin invalidation %s: %d %s", id, status, body)
	}
	var s invalidationStatus
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("admin invalidation: %v: %s", err, body)
	}
	return s
}

// waitInFleet waits until every named edge is connected with lag 0.
func waitInFleet(t *testing.T, cp *fleetProc, names ...string) {
	t.Helper()
	fleetWaitFor(t, 30*time.Second, fmt.Sprintf("all of %v connected with lag 0", names), func() (bool, string) {
		s := fleetOf(t, cp)
		for _, n := range names {
			if connected, _, lag, ok := s.edge(n); !ok || !connected || lag != 0 {
				return false, s.String()
			}
		}
		return true, ""
	})
}

// fleetInvalidate creates an invalidation of paths and returns its Id.
func fleetInvalidate(t *testing.T, c *cloudfront.Client, dist, ref string, paths ...string) string {
	t.Helper()
	out, err := create(t, c, dist, batch(ref, paths...))
	if err != nil {
		t.Fatalf("CreateInvalidation: %v", err)
	}
	return *out.Invalidation.Id
}

// invalidationStatusOf returns the invalidation's Status from GetInvalidation.
func invalidationStatusOf(t *testing.T, c *cloudfront.Client, dist, id string) string {
	t.Helper()
	out, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(dist), Id: aws.String(id)})
	if err != nil {
		t.Fatalf("GetInvalidation: %v", err)
	}
	return *out.Invalidation.Status
}

// waitCompleted waits for the invalidation with the SDK's waiter.
func waitCompleted(t *testing.T, c *cloudfront.Client, dist, id string, max time.Duration) {
	t.Helper()
	w := cloudfront.NewInvalidationCompletedWaiter(c, func(o *cloudfront.InvalidationCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 250*time.Millisecond
	})
	if err := w.Wait(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(dist), Id: aws.String(id)}, max); err != nil {
		t.Fatalf("invalidation %s not Completed: %v", id, err)
	}
}

// tcpProxy forwards connections to target until cut.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
	})
	return p
}

// URL is the proxy's address as an http:// URL.
func (p *tcpProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// setCut cuts every connection and refuses new ones (true), or forwards
// again (false).
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// createFleetDist creates a distribution through the API whose origin is
// o, and returns its Id and domain name.
func createFleetDist(t *testing.T, c *cloudfront.Client, ref string, o *fleetOrigin) (id *string, host string) {
	t.Helper()
	cfg := minimalConfig(ref)
	cfg.Origins.Items[0].DomainName = aws.String("127.0.0.1")
	cfg.Origins.Items[0].CustomOriginConfig.HTTPPort = aws.Int32(int32(o.port()))
	out, err := createDist(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out.Distribution.Id, *out.Distribution.DomainName
}
