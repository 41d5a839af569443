package fleet_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/testutil"
)

// startLocalFollower follows h in-process (FollowerConfig.Hub).
func startLocalFollower(t *testing.T, h *fleet.Hub, name string, cache fleet.Cache) *fleet.Follower {
	t.Helper()
	f := fleet.NewFollower(fleet.FollowerConfig{Hub: h, Name: name, Addr: "http://" + name + ".test",
		Registry: distribution.NewRegistry(), Cache: cache, MaxStaleness: 2 * time.Second, Logger: quiet})
	runFollower(t, f)
	return f
}

// The in-process follower gets the snapshot, applies what is published,
// and its acknowledgements complete the hub's Apply: the same protocol as
// over HTTP, without a listener.
func TestLocalFollowerFollowsTheHub(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	cache := &recordingCache{}
	f := startLocalFollower(t, h, "local", cache)
	eventually(t, "fresh", f.Fresh)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	i1 := inv("I1", "/a")
	if err := h.Apply(ctx, i1); err != nil {
		t.Fatal(err)
	}
	if got := cache.applied(); !slices.Equal(got, []string{"I1"}) {
		t.Fatalf("applied %v when Apply returned", got)
	}
	p2 := publish(t, h, "I2")
	waitAcked(t, h, "local", p2)
	e, ok := edgeOf(h.Status(), "local")
	if !ok || !e.Connected || e.Addr != "http://local.test" {
		t.Fatalf("registry: %+v", h.Status())
	}
	if got := cache.applied(); !slices.Equal(got, []string{"I1", "I2"}) {
		t.Fatalf("applied %v", got)
	}
}

// blockingCache blocks every Apply while held.
type blockingCache struct {
	recordingCache
	mu      sync.RWMutex // held (write) to block
	started chan string  // receives each Id as its Apply starts
}

func (c *blockingCache) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	select {
	case c.started <- inv.ID:
	default:
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.recordingCache.Apply(ctx, inv)
}

// An in-process follower that stops reading its stream (stuck applying)
// has the stream ended after the edge timeout, as a write deadline ends a
// stalled HTTP one, so the hub's stream does not block forever; the
// follower then resumes after its position, missing and repeating nothing.
func TestLocalStalledStreamEndsAndResumes(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{EdgeTimeout: 2 * time.Second})
	cache := &blockingCache{started: make(chan string, 16)}
	f := startLocalFollower(t, h, "local", cache)
	eventually(t, "fresh", f.Fresh)

	cache.mu.Lock()
	p1 := publish(t, h, "I1")
	if id := <-cache.started; id != "I1" {
		t.Fatalf("applying %s", id)
	}
	// The follower is stuck in I1's Apply: the stream's next write
	// blocks, until the deadline ends the stream.
	p2 := publish(t, h, "I2")
	waitDisconnected(t, h, "local")
	if got := f.Applied(); got >= p1 {
		t.Fatalf("applied %d while stuck applying %d", got, p1)
	}
	cache.mu.Unlock()

	waitAcked(t, h, "local", p2)
	if got := cache.applied(); !slices.Equal(got, []string{"I1", "I2"}) {
		t.Fatalf("applied %v, want I1 then I2 once each", got)
	}
	if e, _ := edgeOf(h.Status(), "local"); !e.Connected {
		t.Fatalf("not reconnected: %+v", e)
	}
}

// A name the hub refuses fails the stream without registering anything.
func TestLocalFollowerBadName(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	var logs testutil.SyncBuffer
	f := fleet.NewFollower(fleet.FollowerConfig{Hub: h, Name: "no spaces", Registry: distribution.NewRegistry(),
		Cache: &recordingCache{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	runFollower(t, f)
	eventually(t, "the refusal logged", func() bool { return strings.Contains(logs.String(), "name must be 1 to 64 letters") })
	if f.Fresh() || len(h.Status().Edges) != 0 {
		t.Fatalf("fresh %v, registry %+v", f.Fresh(), h.Status())
	}
}
