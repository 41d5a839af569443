package fleet_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

// ApplyAll logs a batch, in log order whatever the batch's order, and
// calls done for each once the edge has applied all of them; an item that
// cannot be logged fails alone.
func TestHubApplyAll(t *testing.T) {
	store := memory.New()
	h := newHub(t, store, fleet.HubConfig{})
	cache := &recordingCache{}
	f := startLocalFollower(t, h, "local", cache)
	eventually(t, "fresh", f.Fresh)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// As a store logging events with the invalidations does
	// (WithInvalidationEvent): I2 and I3 are in the log before the hub
	// hears of them, and the batch names them out of order.
	i1, i2, i3 := inv("I1", "/1"), inv("I2", "/2"), inv("I3", "/3")
	for _, i := range []invalidation.Invalidation{i2, i3} {
		key, data := fleet.InvalidationEvent(i)
		if _, err := store.AppendEvent(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	bad := inv("IBAD", "/bad")
	bad.CreateTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // cannot be encoded
	batch := []invalidation.Invalidation{i3, bad, i2, i1}
	errs := make([]error, len(batch))
	calls := make([]int, len(batch))
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(len(batch))
	h.ApplyAll(ctx, batch, func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		calls[i]++
		errs[i] = err
		wg.Done()
	})
	waitGroup(t, &wg, "done for every item")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(calls, []int{1, 1, 1, 1}) {
		t.Fatalf("done calls per item %v, want one each", calls)
	}
	if errs[0] != nil || errs[2] != nil || errs[3] != nil || errs[1] == nil {
		t.Fatalf("done errors %v; want only the unencodable one to fail", errs)
	}
	if got := cache.applied(); !slices.Equal(got, []string{"I2", "I3", "I1"}) {
		t.Fatalf("applied %v when done was called, want the log's order I2 I3 I1", got)
	}
	if s := h.Status(); s.Head != 3 {
		t.Errorf("head %d, want 3", s.Head)
	}
	for _, id := range []string{"I1", "I2", "I3"} {
		s, ok := h.EventStatus(fleet.InvalidationKey(distID, id))
		if !ok || s.Kind != fleet.KindInvalidation || len(s.Pending) != 0 || s.Applied["local"].IsZero() {
			t.Errorf("event status of %s: %+v %v", id, s, ok)
		}
	}

	// The next single Apply follows on.
	if err := h.Apply(ctx, inv("I4", "/4")); err != nil {
		t.Fatal(err)
	}
	if got := cache.applied(); !slices.Equal(got, []string{"I2", "I3", "I1", "I4"}) {
		t.Fatalf("applied %v", got)
	}
}

// ApplyAll waits for every edge; when ctx ends first, every logged item is
// done with ctx's error.
func TestHubApplyAllCanceled(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	h.Expect("absent", "http://absent.test") // never acknowledges
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	wg.Add(2)
	h.ApplyAll(ctx, []invalidation.Invalidation{inv("I1", "/1"), inv("I2", "/2")}, func(i int, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		wg.Done()
	})
	waitGroup(t, &wg, "done for both items")
	if len(errs) != 2 || errs[0] != context.DeadlineExceeded || errs[1] != context.DeadlineExceeded {
		t.Fatalf("done errors %v, want DeadlineExceeded twice", errs)
	}
	if s := h.Status(); s.Head != 2 {
		t.Errorf("head %d, want 2: logged all the same", s.Head)
	}
}

// A batch waiting for an edge that does not acknowledge does not hold the
// next batch back from the edges that do: ApplyAll returns once its
// invalidations are published, and the healthy edge applies the next
// batch while the first still waits.
func TestHubApplyAllStalledEdge(t *testing.T) {
	h := newHub(t, memory.New(), fleet.HubConfig{})
	cache := &recordingCache{}
	f := startLocalFollower(t, h, "local", cache)
	eventually(t, "fresh", f.Fresh)
	h.Expect("stalled", "http://stalled.test") // never acknowledges
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	wg.Add(2)
	done := func(i int, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		wg.Done()
	}
	returned := make(chan struct{})
	go func() {
		h.ApplyAll(ctx, []invalidation.Invalidation{inv("I1", "/1")}, done)
		h.ApplyAll(ctx, []invalidation.Invalidation{inv("I2", "/2")}, done)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(15 * time.Second):
		t.Fatal("ApplyAll waited for the stalled edge")
	}
	eventually(t, "the healthy edge applied both", func() bool {
		return slices.Equal(cache.applied(), []string{"I1", "I2"})
	})
	mu.Lock()
	if len(errs) != 0 {
		t.Errorf("done called %v while an edge has not applied them", errs)
	}
	mu.Unlock()
	cancel() // the stalled edge never acknowledges: done reports it
	waitGroup(t, &wg, "done for both items after cancel")
	for _, err := range errs {
		if err != context.Canceled {
			t.Errorf("done error %v, want context.Canceled", err)
		}
	}
}

// waitGroup waits for wg, failing t if that takes more than 15 s (a hang,
// not a slow machine).
func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
	case <-time.After(15 * time.Second):
		t.Fatalf("waiting for %s: still waiting after 15 s", what)
	}
}
