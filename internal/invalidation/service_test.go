package invalidation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

var ctx = context.Background()

// dists is a fixed set of distribution Ids.
type dists []string

func (d dists) Exists(id string) bool { return slices.Contains(d, id) }

func (d dists) Acquire(id string) (func(), bool) { return func() {}, d.Exists(id) }

func newService(store invalidation.Store, applier invalidation.Applier) *invalidation.Service {
	return invalidation.NewService(invalidation.Config{
		Store:         store,
		Distributions: dists{"E1", "E2"},
		Applier:       applier,
		Logger:        slog.New(slog.DiscardHandler),
	})
}

func mustGet(t *testing.T, svc *invalidation.Service, id string) invalidation.Invalidation {
	t.Helper()
	inv, err := svc.Get(ctx, "E1", id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return inv
}

func wantStatus(t *testing.T, svc *invalidation.Service, id string, status invalidation.Status, completeTime time.Time) {
	t.Helper()
	inv := mustGet(t, svc, id)
	if inv.Status != status {
		t.Errorf("%s is %s at %v, want %s", id, inv.Status, time.Now().UTC(), status)
	}
	if !inv.CompleteTime.Equal(completeTime) {
		t.Errorf("%s CompleteTime = %v, want %v", id, inv.CompleteTime, completeTime)
	}
}

// An invalidation is InProgress until the applier's minute has passed, then
// Completed at that instant.
func TestServiceCompletesAfterDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(memory.New(), invalidation.DelayApplier{Delay: time.Minute})
		defer svc.Close()
		start := time.Now()

		inv, created, err := svc.Create(ctx, "E1", batch("ref-1", "/index.html", "/img/*"))
		if err != nil || !created {
			t.Fatalf("Create = created %v, err %v", created, err)
		}
		if inv.Status != invalidation.InProgress || !inv.CreateTime.Equal(start) || inv.CreateTime.Location() != time.UTC {
			t.Errorf("created %+v, want InProgress created at %v UTC", inv, start)
		}
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.InProgress, time.Time{})

		time.Sleep(59 * time.Second)
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.InProgress, time.Time{})

		time.Sleep(time.Second)
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.Completed, start.Add(time.Minute))

		// A replay returns it Completed.
		again, created, err := svc.Create(ctx, "E1", batch("ref-1", "/img/*", "/index.html"))
		if err != nil || created || again.ID != inv.ID || again.Status != invalidation.Completed {
			t.Errorf("replay = %+v created %v err %v", again, created, err)
		}
	})
}

// The in-progress wildcard limit frees up as invalidations complete.
func TestServiceWildcardLimitFreesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(memory.New(), invalidation.DelayApplier{Delay: time.Minute})
		defer svc.Close()
		for i := range 15 {
			if _, _, err := svc.Create(ctx, "E1", batch(fmt.Sprint("w", i), fmt.Sprintf("/d%d/*", i))); err != nil {
				t.Fatalf("wildcard batch %d: %v", i+1, err)
			}
			time.Sleep(time.Second)
		}
		_, _, err := svc.Create(ctx, "E1", batch("w15", "/d15/*"))
		wantCode(t, err, invalidation.CodeTooManyInvalidationsInProgress, msgTooManyWildcards)

		// Other distributions and file paths are not held up.
		if _, _, err := svc.Create(ctx, "E2", batch("w0", "/*")); err != nil {
			t.Errorf("wildcard on another distribution: %v", err)
		}
		if _, _, err := svc.Create(ctx, "E1", batch("f0", "/a", "/b")); err != nil {
			t.Errorf("file paths: %v", err)
		}

		// The first completes a minute after it was created, 45s from now.
		time.Sleep(44 * time.Second)
		synctest.Wait()
		_, _, err = svc.Create(ctx, "E1", batch("w15", "/d15/*"))
		wantCode(t, err, invalidation.CodeTooManyInvalidationsInProgress, msgTooManyWildcards)
		time.Sleep(time.Second)
		synctest.Wait()
		if _, created, err := svc.Create(ctx, "E1", batch("w15", "/d15/*")); err != nil || !created {
			t.Errorf("wildcard after one completed: created %v, err %v", created, err)
		}
	})
}

// Resume goes on with what an earlier run left InProgress, counting the
// delay from each invalidation's CreateTime.
func TestServiceResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		now := time.Now().UTC()
		put := func(ref string, age time.Duration, status invalidation.Status) invalidation.Invalidation {
			inv := invalidation.Invalidation{
				DistributionID: "E1",
				ID:             invalidation.NewID(),
				Status:         status,
				CreateTime:     now.Add(-age),
				Batch:          batch(ref, "/"+ref),
			}
			if _, _, err := store.Create(ctx, inv, func(invalidation.Usage) error { return nil }); err != nil {
				t.Fatal(err)
			}
			return inv
		}
		old := put("old", 2*time.Minute, invalidation.InProgress)
		recent := put("recent", 20*time.Second, invalidation.InProgress)
		done := put("done", 5*time.Minute, invalidation.Completed)

		svc := newService(store, invalidation.DelayApplier{Delay: time.Minute})
		defer svc.Close()
		// Nothing happens before Resume.
		time.Sleep(time.Second)
		synctest.Wait()
		wantStatus(t, svc, old.ID, invalidation.InProgress, time.Time{})

		if err := svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// Overdue: completed at once.
		wantStatus(t, svc, old.ID, invalidation.Completed, now.Add(time.Second))
		wantStatus(t, svc, recent.ID, invalidation.InProgress, time.Time{})
		wantStatus(t, svc, done.ID, invalidation.Completed, time.Time{})

		time.Sleep(39 * time.Second) // recent is now 1 min old
		synctest.Wait()
		wantStatus(t, svc, recent.ID, invalidation.Completed, now.Add(40*time.Second))
	})
}

// Close stops the work; the invalidation stays InProgress in the store and
// the next service picks it up with Resume.
func TestServiceCloseThenResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		start := time.Now()
		svc := newService(store, invalidation.DelayApplier{Delay: time.Minute})
		inv, _, err := svc.Create(ctx, "E1", batch("ref", "/a"))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		svc.Close()
		time.Sleep(time.Minute) // down for a minute: nothing completes it

		svc = newService(store, invalidation.DelayApplier{Delay: time.Minute})
		defer svc.Close()
		wantStatus(t, svc, inv.ID, invalidation.InProgress, time.Time{})
		if err := svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.Completed, start.Add(90*time.Second))
	})
}

// flaky fails its first n Applies.
type flaky struct {
	n     int32
	calls atomic.Int32
}

func (f *flaky) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	if f.calls.Add(1) <= f.n {
		return errors.New("edge unreachable")
	}
	return nil
}

// A failing applier is retried with backoff until it succeeds.
func TestServiceRetriesApplier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		applier := &flaky{n: 3}
		svc := newService(memory.New(), applier)
		defer svc.Close()
		start := time.Now()
		inv, _, err := svc.Create(ctx, "E1", batch("ref", "/a"))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.InProgress, time.Time{})
		// Backoff 50ms, 100ms, 200ms: the fourth try is at 350ms.
		time.Sleep(349 * time.Millisecond)
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.InProgress, time.Time{})
		time.Sleep(time.Millisecond)
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.Completed, start.Add(350*time.Millisecond))
		if got := applier.calls.Load(); got != 4 {
			t.Errorf("Apply called %d times, want 4", got)
		}
	})
}

// Close ends retries of an applier that never succeeds.
func TestServiceCloseStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(memory.New(), &flaky{n: 1 << 30})
		if _, _, err := svc.Create(ctx, "E1", batch("ref", "/a")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		svc.Close() // returns: the bubble would deadlock otherwise
	})
}

func TestDelayApplier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		inv := invalidation.Invalidation{CreateTime: start.Add(-10 * time.Second)}
		if err := (invalidation.DelayApplier{Delay: time.Minute}).Apply(ctx, inv); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 50*time.Second {
			t.Errorf("Apply waited %v, want 50s", got)
		}
		// Overdue and zero delays return at once.
		start = time.Now()
		if err := (invalidation.DelayApplier{}).Apply(ctx, invalidation.Invalidation{CreateTime: start}); err != nil || time.Since(start) != 0 {
			t.Errorf("zero delay: %v after %v", err, time.Since(start))
		}
		// A canceled context ends the wait.
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start = time.Now()
		err := (invalidation.DelayApplier{Delay: time.Hour}).Apply(c, invalidation.Invalidation{CreateTime: start})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("canceled: %v after %v", err, time.Since(start))
		}
		// Now overrides the clock.
		fixed := start.Add(time.Hour)
		d := invalidation.DelayApplier{Delay: time.Minute, Now: func() time.Time { return fixed }}
		start = time.Now()
		if err := d.Apply(ctx, invalidation.Invalidation{CreateTime: start}); err != nil || time.Since(start) != 0 {
			t.Errorf("with Now an hour ahead: %v after %v", err, time.Since(start))
		}
	})
}

func TestServiceCreate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(memory.New(), invalidation.DelayApplier{Delay: time.Hour})
		defer svc.Close()
		if svc.Limits() != invalidation.DefaultLimits {
			t.Errorf("Limits() = %+v, want the defaults", svc.Limits())
		}

		_, _, err := svc.Create(ctx, "ENOPE", batch("ref", "/a"))
		wantCode(t, err, invalidation.CodeNoSuchDistribution, "")

		_, _, err = svc.Create(ctx, "E1", batch("ref", "a"))
		wantCode(t, err, invalidation.CodeInvalidArgument, msgInvalidPaths)

		time.Sleep(1234567 * time.Microsecond) // CreateTime keeps milliseconds
		inv, created, err := svc.Create(ctx, "E1", batch("ref", "/a", "/b", "/a"))
		if err != nil || !created {
			t.Fatalf("Create = %v, %v", created, err)
		}
		if want := time.Now().UTC().Truncate(time.Millisecond); !inv.CreateTime.Equal(want) || inv.CreateTime.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("CreateTime = %v, want %v", inv.CreateTime, want)
		}
		if inv.DistributionID != "E1" || !slices.Equal(inv.Batch.Paths, []string{"/a", "/b", "/a"}) {
			t.Errorf("created %+v", inv)
		}

		// Replays: same paths in any order return the original.
		again, created, err := svc.Create(ctx, "E1", batch("ref", "/a", "/a", "/b"))
		if err != nil || created || again.ID != inv.ID || !again.CreateTime.Equal(inv.CreateTime) {
			t.Errorf("replay = %+v, created %v, err %v", again, created, err)
		}
		// Same reference, other paths: refused.
		for _, paths := range [][]string{{"/a", "/b"}, {"/a", "/b", "/c"}, {"/a", "/b", "/b"}} {
			_, _, err = svc.Create(ctx, "E1", batch("ref", paths...))
			wantCode(t, err, invalidation.CodeInvalidationBatchAlreadyExists, "")
		}
		// Same reference on another distribution: a new invalidation.
		other, created, err := svc.Create(ctx, "E2", batch("ref", "/x"))
		if err != nil || !created || other.ID == inv.ID {
			t.Errorf("same reference on E2 = %+v, created %v, err %v", other, created, err)
		}

		// A replay is answered even when the limits are full.
		for i := range 14 {
			if _, _, err := svc.Create(ctx, "E1", batch(fmt.Sprint("w", i), "/w*")); err != nil {
				t.Fatal(err)
			}
		}
		w15, _, err := svc.Create(ctx, "E1", batch("w14", "/w*"))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = svc.Create(ctx, "E1", batch("w15", "/w*"))
		wantCode(t, err, invalidation.CodeTooManyInvalidationsInProgress, msgTooManyWildcards)
		if got, created, err := svc.Create(ctx, "E1", batch("w14", "/w*")); err != nil || created || got.ID != w15.ID {
			t.Errorf("replay with the wildcard limit full = %s, created %v, err %v", got.ID, created, err)
		}
	})
}

func TestServiceGetAndList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(memory.New(), invalidation.DelayApplier{Delay: time.Hour})
		defer svc.Close()

		_, err := svc.Get(ctx, "ENOPE", "I1")
		wantCode(t, err, invalidation.CodeNoSuchDistribution, "")
		_, err = svc.Get(ctx, "E1", "INOSUCH")
		wantCode(t, err, invalidation.CodeNoSuchInvalidation, "")
		_, err = svc.List(ctx, "ENOPE", "", 10)
		wantCode(t, err, invalidation.CodeNoSuchDistribution, "")

		page, err := svc.List(ctx, "E1", "", 10)
		if err != nil || len(page.Items) != 0 || page.NextMarker != "" {
			t.Errorf("List of an empty distribution = %+v, %v", page, err)
		}

		var ids []string // newest first
		for i := range 5 {
			inv, _, err := svc.Create(ctx, "E1", batch(fmt.Sprint("r", i), "/a"))
			if err != nil {
				t.Fatal(err)
			}
			ids = slices.Insert(ids, 0, inv.ID)
			time.Sleep(time.Second)
		}
		if got := mustGet(t, svc, ids[0]); got.Batch.CallerReference != "r4" {
			t.Errorf("Get = %+v", got)
		}

		var all []string
		marker := ""
		for range 10 {
			page, err := svc.List(ctx, "E1", marker, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, inv := range page.Items {
				all = append(all, inv.ID)
			}
			if page.NextMarker == "" {
				break
			}
			if page.NextMarker != page.Items[len(page.Items)-1].ID {
				t.Errorf("NextMarker %s is not the last item", page.NextMarker)
			}
			marker = page.NextMarker
		}
		if !slices.Equal(all, ids) {
			t.Errorf("paged List = %v, want %v", all, ids)
		}
		page, err = svc.List(ctx, "E1", "", 5)
		if err != nil || len(page.Items) != 5 || page.NextMarker != "" {
			t.Errorf("List of exactly all = %d items, NextMarker %q, err %v", len(page.Items), page.NextMarker, err)
		}

		_, err = svc.List(ctx, "E1", "INOSUCHMARKER", 10)
		wantCode(t, err, invalidation.CodeInvalidArgument, "")
	})
}

// leases counts leases taken and not yet released.
type leases struct {
	dists
	held, taken atomic.Int32
}

func (l *leases) Acquire(id string) (func(), bool) {
	if !l.Exists(id) {
		return nil, false
	}
	l.held.Add(1)
	l.taken.Add(1)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.held.Add(-1)
		}
	}, true
}

// Create holds a lease on the distribution while it writes, and gives it
// back on every path out.
func TestServiceCreateReleasesLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &leases{dists: dists{"E1"}}
		svc := invalidation.NewService(invalidation.Config{
			Store:         memory.New(),
			Distributions: l,
			Limits:        invalidation.Limits{MaxBatchPaths: 10, MaxInProgressFilePaths: 1, MaxInProgressWildcardPaths: 1, MaxPathLength: 100},
			Applier:       invalidation.DelayApplier{Delay: time.Hour},
			Logger:        slog.New(slog.DiscardHandler),
		})
		defer svc.Close()
		for _, b := range []invalidation.Batch{
			batch("ok", "/a"),   // created
			batch("ok", "/a"),   // replay
			batch("ok", "/b"),   // reference reused
			batch("full", "/c"), // over the in-progress limit
			batch("bad", "c"),   // invalid
			batch("", "/a"),     // invalid
		} {
			svc.Create(ctx, "E1", b)
			if n := l.held.Load(); n != 0 {
				t.Errorf("after Create(%+v) %d leases are held", b, n)
			}
		}
		if _, _, err := svc.Create(ctx, "ENOPE", batch("x", "/a")); invalidation.CodeOf(err) != invalidation.CodeNoSuchDistribution {
			t.Errorf("unknown distribution: %v", err)
		}
		if n := l.taken.Load(); n != 6 {
			t.Errorf("%d leases taken, want 6", n)
		}
	})
}

// counting counts Apply calls.
type counting struct {
	invalidation.Applier
	calls atomic.Int32
}

func (c *counting) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	c.calls.Add(1)
	return c.Applier.Apply(ctx, inv)
}

// When the store no longer knows an invalidation (its distribution was
// deleted), completing it stops instead of retrying forever.
func TestServiceStopsWhenInvalidationGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		applier := &counting{Applier: invalidation.DelayApplier{Delay: time.Minute}}
		svc := newService(store, applier)
		defer svc.Close()
		if _, _, err := svc.Create(ctx, "E1", batch("ref", "/a")); err != nil {
			t.Fatal(err)
		}
		if err := store.CreateDistribution(ctx, distribution.Distribution{ID: "E1", CallerReference: "e1"}); err != nil {
			t.Fatal(err)
		}
		if err := store.DeleteDistribution(ctx, "E1", nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := applier.calls.Load(); n != 1 {
			t.Errorf("Apply called %d times, want 1", n)
		}
	})
}

// ExampleService shows the life of a batch: created, replayed, refused when
// its CallerReference is reused for other paths.
func ExampleService() {
	svc := invalidation.NewService(invalidation.Config{
		Store:         memory.New(),
		Distributions: dists{"EDFDVBD6EXAMPLE"},
		Applier:       invalidation.DelayApplier{Delay: time.Hour},
	})
	defer svc.Close()
	ctx := context.Background()

	inv, created, _ := svc.Create(ctx, "EDFDVBD6EXAMPLE", invalidation.Batch{CallerReference: "deploy-42", Paths: []string{"/index.html", "/assets/*"}})
	fmt.Println(created, inv.Status, len(inv.ID))

	again, created, _ := svc.Create(ctx, "EDFDVBD6EXAMPLE", invalidation.Batch{CallerReference: "deploy-42", Paths: []string{"/assets/*", "/index.html"}})
	fmt.Println(created, again.ID == inv.ID)

	_, _, err := svc.Create(ctx, "EDFDVBD6EXAMPLE", invalidation.Batch{CallerReference: "deploy-42", Paths: []string{"/other"}})
	fmt.Println(invalidation.CodeOf(err))
	// Output:
	// true InProgress 14
	// false true
	// InvalidationBatchAlreadyExists
}

// gated applies an invalidation once open is closed (or ctx ends).
type gated struct {
	open  chan struct{}
	calls atomic.Int32
}

func (g *gated) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	g.calls.Add(1)
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A service sharing its store with another replica's takes on, with
// Adopt, the invalidations left InProgress for longer than the age given
// (the other replica died), once each while it completes them, and
// records them Completed once applied.
func TestServiceAdoptsOthersInvalidations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		dead := newService(store, &gated{open: make(chan struct{})})
		inv, _, err := dead.Create(ctx, "E1", batch("ref", "/a"))
		if err != nil {
			t.Fatal(err)
		}
		dead.Close() // dies with it InProgress
		g := &gated{open: make(chan struct{})}
		svc := newService(store, g)
		defer svc.Close()
		time.Sleep(time.Minute)
		if n, err := svc.Adopt(ctx, 5*time.Minute); err != nil || n != 0 {
			t.Fatalf("Adopt of an invalidation a minute old: %d, %v; want 0 (younger than the age)", n, err)
		}
		time.Sleep(5 * time.Minute)
		if n, err := svc.Adopt(ctx, 5*time.Minute); err != nil || n != 1 {
			t.Fatalf("Adopt: %d, %v; want 1", n, err)
		}
		if n, _ := svc.Adopt(ctx, 5*time.Minute); n != 0 {
			t.Fatalf("a second Adopt while the first completes it took on %d", n)
		}
		synctest.Wait()
		wantStatus(t, svc, inv.ID, invalidation.InProgress, time.Time{})
		close(g.open)
		synctest.Wait()
		if got := mustGet(t, svc, inv.ID); got.Status != invalidation.Completed {
			t.Fatalf("%s is %s after being applied", inv.ID, got.Status)
		}
		if n := g.calls.Load(); n != 1 {
			t.Errorf("Apply called %d times, want 1", n)
		}
		if n, _ := svc.Adopt(ctx, 0); n != 0 {
			t.Errorf("Adopt after completion took on %d", n)
		}
	})
}
