package fleet_test

// Test rigs: a hub on the memory store behind an httptest server that can
// be taken down (edges cut off) or pointed at another hub, raw stream
// readers, and a cache that records what it is told to apply.

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/testutil"
)

const distID = "EUNITDIST00001"

var quiet = slog.New(slog.DiscardHandler)

func testDist() *distribution.Distribution {
	u, _ := url.Parse("http://127.0.0.1:9")
	return distribution.FromFile(distID, u, nil, "", time.Now())
}

// rig is a hub on a memory store, served over HTTP.
type rig struct {
	t     testing.TB
	store *memory.Store
	hub   *fleet.Hub
	srv   *httptest.Server
	down  atomic.Bool
	// target is the handler behind srv: the hub's, until swapped.
	target atomic.Pointer[http.Handler]
}

// newHub returns a hub on store serving testDist, closed at the end of t.
func newHub(t testing.TB, store fleet.Store, c fleet.HubConfig) *fleet.Hub {
	t.Helper()
	c.Store = store
	if c.Distributions == nil {
		d := testDist()
		c.Distributions = func() []*distribution.Distribution { return []*distribution.Distribution{d} }
	}
	if c.Logger == nil {
		c.Logger = quiet
	}
	h, err := fleet.NewHub(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	t.Cleanup(h.StopStreams) // before the server closes (cleanups run last first)
	return h
}

func newRig(t testing.TB, c fleet.HubConfig) *rig {
	t.Helper()
	r := &rig{t: t, store: memory.New()}
	r.hub = newHub(t, r.store, c)
	h := r.hub.Handler()
	r.target.Store(&h)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "control plane down", http.StatusServiceUnavailable)
			return
		}
		(*r.target.Load()).ServeHTTP(w, req)
	}))
	t.Cleanup(func() {
		r.hub.StopStreams()
		r.srv.Close()
	})
	return r
}

// setDown cuts every edge off (true) or lets them reconnect (false).
func (r *rig) setDown(down bool) {
	r.down.Store(down)
	if down {
		r.srv.CloseClientConnections()
	}
}

// swap points the server at another hub, dropping every connection.
func (r *rig) swap(h *fleet.Hub) {
	hh := h.Handler()
	r.target.Store(&hh)
	r.srv.CloseClientConnections()
}

func inv(id string, paths ...string) invalidation.Invalidation {
	return invalidation.Invalidation{DistributionID: distID, ID: id, Status: invalidation.InProgress, CreateTime: time.Now(),
		Batch: invalidation.Batch{CallerReference: "ref-" + id, Paths: paths}}
}

// publish logs an invalidation (without waiting for the edges).
func publish(t *testing.T, h *fleet.Hub, id string) uint64 {
	t.Helper()
	i := inv(id, "/"+id)
	pos, err := h.Publish(context.Background(), "inv/"+distID+"/"+id, fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &i})
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// ack posts an acknowledgement as edge name and returns the status.
func ack(t *testing.T, h *fleet.Hub, name string, pos string) int {
	t.Helper()
	w := httptest.NewRecorder()
	h.Handler().ServeHTTP(w, httptest.NewRequest("POST", fleet.PathAck+"?"+url.Values{"name": {name}, "instance": {"test-" + name}, "pos": {pos}}.Encode(), nil))
	return w.Code
}

func edgeOf(s fleet.Status, name string) (fleet.EdgeStatus, bool) {
	for _, e := range s.Edges {
		if e.Name == name {
			return e, true
		}
	}
	return fleet.EdgeStatus{}, false
}

// eventually waits up to 15 seconds for cond (testutil.Eventually).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, cond, what)
}

// sseEvent is one event of a stream.
type sseEvent struct {
	id   uint64
	kind string
	data string
}

// stream is a raw reader of the hub's event stream.
type stream struct {
	t      *testing.T
	events chan sseEvent
	cancel context.CancelFunc
}

// openStream opens the stream as edge name with query (e.g. applied=3).
func openStream(t *testing.T, base, name, query string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := base + fleet.PathStream + "?name=" + name + "&instance=test-" + name
	if query != "" {
		u += "&" + query
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("stream: %s", resp.Status)
	}
	s := &stream{t: t, events: make(chan sseEvent, 1024), cancel: cancel}
	t.Cleanup(cancel)
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.kind != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id, _ = strconv.ParseUint(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[6:]
			}
		}
	}()
	return s
}

// next returns the next event.
func (s *stream) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(15 * time.Second):
		s.t.Fatal("no event on the stream")
	}
	return sseEvent{}
}

// recordingCache is a fleet.Cache that records what it applies.
type recordingCache struct {
	mu   sync.Mutex
	invs []invalidation.Invalidation
}

func (c *recordingCache) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invs = append(c.invs, inv)
	return nil
}

// applied returns the Ids applied, in order ("purge" for a purge).
func (c *recordingCache) applied() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, i := range c.invs {
		ids = append(ids, i.ID)
	}
	return ids
}

// purged reports whether everything of distID was invalidated.
func (c *recordingCache) purged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.invs, func(i invalidation.Invalidation) bool {
		return i.DistributionID == distID && slices.Contains(i.Batch.Paths, "/*")
	})
}

// edge is a follower of a rig with a recording cache.
type edge struct {
	f        *fleet.Follower
	cache    *recordingCache
	registry *distribution.Registry
	stop     context.CancelFunc
}

func startFollower(t testing.TB, controlPlane, name string, maxStaleness time.Duration) *edge {
	t.Helper()
	e := &edge{cache: &recordingCache{}, registry: distribution.NewRegistry()}
	e.f = fleet.NewFollower(fleet.FollowerConfig{ControlPlane: controlPlane, Name: name, Addr: "http://" + name + ".test",
		Registry: e.registry, Cache: e.cache, MaxStaleness: maxStaleness, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.f.Run(ctx)
	}()
	e.stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(e.stop)
	return e
}

func (e sseEvent) String() string { return fmt.Sprintf("id %d %s %s", e.id, e.kind, e.data) }

// runFollower runs f until the end of t.
func runFollower(t testing.TB, f *fleet.Follower) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
