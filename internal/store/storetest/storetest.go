// Package storetest is the conformance suite every invalidation.Store
// backend must pass. A backend's tests call Run, and durable backends also
// RunDurable:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) invalidation.Store { return mystore.New() })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

// Run checks that the stores open returns behave as invalidation.Store
// documents. open must return a new, empty store each time it is called;
// Run closes every store it opens when the subtest that opened it ends, so
// open must not close it itself (it may register other cleanups on t).
// Close must be safe to call more than once.
func Run(t *testing.T, open func(t *testing.T) invalidation.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s invalidation.Store)
	}{
		{"CreateNew", testCreateNew},
		{"CreateReplay", testCreateReplay},
		{"CreateReplayOtherDistribution", testCreateReplayOtherDistribution},
		{"AdmitUsage", testAdmitUsage},
		{"AdmitError", testAdmitError},
		{"AdmitErrorNewDistribution", testAdmitErrorNewDistribution},
		{"Complete", testComplete},
		{"CompleteUnknown", testCompleteUnknown},
		{"CompleteAll", testCompleteAll},
		{"ConcurrentCompleteAll", testConcurrentCompleteAll},
		{"GetUnknown", testGetUnknown},
		{"List", testList},
		{"ListEmpty", testListEmpty},
		{"ListIncludesCompleted", testListIncludesCompleted},
		{"InProgress", testInProgress},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentAdmit", testConcurrentAdmit},
		{"ConcurrentAdmitErrorsAreIsolated", testConcurrentAdmitErrorsAreIsolated},
		{"ConcurrentCreateAndComplete", testConcurrentCreateAndComplete},
		{"Copies", testCopies},
		{"LongCallerReference", testLongCallerReference},
		{"WriteAfterClose", testWriteAfterClose},
		{"AssignedIDs", testAssignedIDs},
		{"AssignedIDsConcurrent", testAssignedIDsConcurrent},
		{"AssignedIDsAfterDelete", testAssignedIDsAfterDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// RunDurable checks that a store keeps everything across Close and a new
// open of the same directory. open opens (creating if needed) the store
// kept in dir; RunDurable closes what it opens.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) invalidation.Store) {
	t.Helper()
	open = closing(open)
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
	t.Run("ReopenAfterConcurrentWrites", func(t *testing.T) { testReopenAfterConcurrentWrites(t, open) })
	t.Run("CloseWaitsForWrites", func(t *testing.T) { testCloseWaitsForWrites(t, open) })
	t.Run("ReopenAssignedIDs", func(t *testing.T) { testReopenAssignedIDs(t, open) })
}

// closing makes open also close the store when the test ends, should the
// test stop before closing it itself.
func closing(open func(t *testing.T, dir string) invalidation.Store) func(t *testing.T, dir string) invalidation.Store {
	return func(t *testing.T, dir string) invalidation.Store {
		t.Helper()
		s := open(t, dir)
		t.Cleanup(func() { s.Close() })
		return s
	}
}

var ctx = context.Background()

// base is the CreateTime of the first invalidation a test makes; later ones
// are 1.001s apart, so creation order and time order agree. Times have
// millisecond precision, as CloudFront reports them.
var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// maker hands out invalidations with fresh Ids and increasing CreateTimes.
type maker struct {
	mu sync.Mutex
	n  int
}

func (m *maker) inv(dist, ref string, paths ...string) invalidation.Invalidation {
	m.mu.Lock()
	n := m.n
	m.n++
	m.mu.Unlock()
	return invalidation.Invalidation{
		DistributionID: dist,
		ID:             invalidation.NewID(),
		Status:         invalidation.InProgress,
		CreateTime:     base.Add(time.Duration(n) * 1001 * time.Millisecond),
		Batch:          invalidation.Batch{CallerReference: ref, Paths: paths},
	}
}

// allow admits anything.
func allow(invalidation.Usage) error { return nil }

// refuse is what the Service's admit returns when a limit is hit.
var refuse = &invalidation.Error{Code: invalidation.CodeTooManyInvalidationsInProgress, Message: "refused by the test"}

func mustCreate(t *testing.T, s invalidation.Store, inv invalidation.Invalidation) invalidation.Invalidation {
	t.Helper()
	got, created, err := s.Create(ctx, inv, allow)
	if err != nil {
		t.Fatalf("Create(%s %s): %v", inv.DistributionID, inv.Batch.CallerReference, err)
	}
	if !created {
		t.Fatalf("Create(%s %s): created = false for a new CallerReference", inv.DistributionID, inv.Batch.CallerReference)
	}
	return got
}

// usage returns the in-progress usage the store passes to admit for dist,
// without writing anything: the admit it passes refuses.
func usage(t *testing.T, s invalidation.Store, dist string) invalidation.Usage {
	t.Helper()
	var u invalidation.Usage
	called := false
	probe := invalidation.Invalidation{
		DistributionID: dist,
		ID:             invalidation.NewID(),
		Status:         invalidation.InProgress,
		CreateTime:     base,
		Batch:          invalidation.Batch{CallerReference: "usage-probe-" + invalidation.NewID(), Paths: []string{"/probe"}},
	}
	_, created, err := s.Create(ctx, probe, func(in invalidation.Usage) error {
		u, called = in, true
		return refuse
	})
	if !errors.Is(err, refuse) || created {
		t.Fatalf("usage probe: Create = created %v, err %v; want the admit error", created, err)
	}
	if !called {
		t.Fatal("usage probe: admit was not called for a new CallerReference")
	}
	return u
}

func wantUsage(t *testing.T, s invalidation.Store, dist string, want invalidation.Usage) {
	t.Helper()
	if got := usage(t, s, dist); got != want {
		t.Errorf("in-progress usage of %s = %+v, want %+v", dist, got, want)
	}
}

// wantInProgress checks the Ids InProgress returns, in order.
func wantInProgress(t *testing.T, s invalidation.Store, want ...string) {
	t.Helper()
	ip, err := s.InProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ip); !slices.Equal(got, want) {
		t.Errorf("InProgress = %v, want %v", got, want)
	}
}

func wantCount(t *testing.T, s invalidation.Store, dist string, want int) {
	t.Helper()
	n, err := s.CountInProgress(ctx, dist)
	if err != nil {
		t.Errorf("CountInProgress(%s): %v", dist, err)
		return
	}
	if n != want {
		t.Errorf("CountInProgress(%s) = %d, want %d", dist, n, want)
	}
}

// sameInv reports how got differs from want, or "".
func sameInv(got, want invalidation.Invalidation) string {
	var d []string
	if got.DistributionID != want.DistributionID {
		d = append(d, fmt.Sprintf("DistributionID %q, want %q", got.DistributionID, want.DistributionID))
	}
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID %q, want %q", got.ID, want.ID))
	}
	if got.Status != want.Status {
		d = append(d, fmt.Sprintf("Status %q, want %q", got.Status, want.Status))
	}
	if !got.CreateTime.Equal(want.CreateTime) {
		d = append(d, fmt.Sprintf("CreateTime %v, want %v", got.CreateTime, want.CreateTime))
	}
	if !got.CompleteTime.Equal(want.CompleteTime) {
		d = append(d, fmt.Sprintf("CompleteTime %v, want %v", got.CompleteTime, want.CompleteTime))
	}
	if got.Batch.CallerReference != want.Batch.CallerReference {
		d = append(d, fmt.Sprintf("CallerReference %q, want %q", got.Batch.CallerReference, want.Batch.CallerReference))
	}
	if !slices.Equal(got.Batch.Paths, want.Batch.Paths) {
		d = append(d, fmt.Sprintf("Paths %q, want %q", got.Batch.Paths, want.Batch.Paths))
	}
	return strings.Join(d, "; ")
}

func checkInv(t *testing.T, what string, got, want invalidation.Invalidation) {
	t.Helper()
	if d := sameInv(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

func checkGet(t *testing.T, s invalidation.Store, want invalidation.Invalidation) {
	t.Helper()
	got, err := s.Get(ctx, want.DistributionID, want.ID)
	if err != nil {
		t.Errorf("Get(%s, %s): %v", want.DistributionID, want.ID, err)
		return
	}
	checkInv(t, "Get("+want.ID+")", got, want)
}

func ids(invs []invalidation.Invalidation) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		out[i] = inv.ID
	}
	return out
}

// listAll pages through a distribution with the given page size.
func listAll(t *testing.T, s invalidation.Store, dist string, limit int) []invalidation.Invalidation {
	t.Helper()
	var all []invalidation.Invalidation
	marker := ""
	for range 10000 {
		page, more, err := s.List(ctx, dist, marker, limit)
		if err != nil {
			t.Fatalf("List(%s, %q, %d): %v", dist, marker, limit, err)
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			t.Fatalf("List(%s, %q, %d): empty page with more = true", dist, marker, limit)
		}
		marker = page[len(page)-1].ID
	}
	t.Fatal("List never ends")
	return nil
}

func testCreateNew(t *testing.T, s invalidation.Store) {
	var m maker
	inv := m.inv("E1", "ref-1", "/index.html", "/img/*")
	got, created, err := s.Create(ctx, inv, allow)
	if err != nil || !created {
		t.Fatalf("Create = created %v, err %v; want true, nil", created, err)
	}
	checkInv(t, "Create", got, inv)
	checkGet(t, s, inv)
}

func testCreateReplay(t *testing.T, s invalidation.Store) {
	var m maker
	orig := mustCreate(t, s, m.inv("E1", "ref-1", "/a", "/b*"))
	before := usage(t, s, "E1")

	// Same CallerReference, other Id, paths and time: the original comes
	// back, admit is not consulted and nothing is written.
	again := m.inv("E1", "ref-1", "/c", "/d", "/e*")
	admitted := false
	got, created, err := s.Create(ctx, again, func(invalidation.Usage) error { admitted = true; return nil })
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if created {
		t.Error("replay: created = true, want false")
	}
	if admitted {
		t.Error("replay: admit was called; a replay must not be admitted again")
	}
	checkInv(t, "replay", got, orig)
	if _, err := s.Get(ctx, "E1", again.ID); !errors.Is(err, invalidation.ErrNotFound) {
		t.Errorf("Get(replayed Id) = %v, want ErrNotFound", err)
	}
	if all := listAll(t, s, "E1", 100); !slices.Equal(ids(all), []string{orig.ID}) {
		t.Errorf("List after replay = %v, want only %s", ids(all), orig.ID)
	}
	if after := usage(t, s, "E1"); after != before {
		t.Errorf("usage after replay = %+v, want unchanged %+v", after, before)
	}
	wantCount(t, s, "E1", 1)

	// A replay of a Completed invalidation returns it Completed.
	at := base.Add(time.Hour)
	if err := s.Complete(ctx, "E1", orig.ID, at); err != nil {
		t.Fatal(err)
	}
	got, created, err = s.Create(ctx, m.inv("E1", "ref-1", "/a", "/b*"), allow)
	if err != nil || created {
		t.Fatalf("replay of a completed one = created %v, err %v", created, err)
	}
	orig.Status, orig.CompleteTime = invalidation.Completed, at
	checkInv(t, "replay of a completed one", got, orig)
}

func testCreateReplayOtherDistribution(t *testing.T, s invalidation.Store) {
	var m maker
	a := mustCreate(t, s, m.inv("E1", "shared-ref", "/a"))
	b := mustCreate(t, s, m.inv("E2", "shared-ref", "/b"))
	checkGet(t, s, a)
	checkGet(t, s, b)
	if _, err := s.Get(ctx, "E2", a.ID); !errors.Is(err, invalidation.ErrNotFound) {
		t.Errorf("Get of E1's invalidation under E2 = %v, want ErrNotFound", err)
	}
}

func testAdmitUsage(t *testing.T, s invalidation.Store) {
	var m maker
	wantUsage(t, s, "E1", invalidation.Usage{})

	mustCreate(t, s, m.inv("E1", "r1", "/a", "/b", "/c*"))
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 2, WildcardPaths: 1})

	mustCreate(t, s, m.inv("E1", "r2", "/*", "/x/*", "/y"))
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 3, WildcardPaths: 3})

	// Duplicate paths count, as Batch.Usage counts them.
	mustCreate(t, s, m.inv("E1", "r3", "/d", "/d"))
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 5, WildcardPaths: 3})

	// Other distributions have their own usage.
	wantUsage(t, s, "E2", invalidation.Usage{})
	mustCreate(t, s, m.inv("E2", "r1", "/z*"))
	wantUsage(t, s, "E2", invalidation.Usage{WildcardPaths: 1})
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 5, WildcardPaths: 3})
}

func testAdmitError(t *testing.T, s invalidation.Store) {
	var m maker
	first := mustCreate(t, s, m.inv("E1", "r1", "/a", "/b*"))
	before := usage(t, s, "E1")

	for _, admitErr := range []error{refuse, errors.New("some other refusal")} {
		inv := m.inv("E1", "r2", "/c", "/d*")
		var saw invalidation.Usage
		got, created, err := s.Create(ctx, inv, func(u invalidation.Usage) error { saw = u; return admitErr })
		if !errors.Is(err, admitErr) {
			t.Errorf("Create with admit returning %v: err = %v, want that error", admitErr, err)
		}
		if created {
			t.Error("Create with a refusing admit: created = true")
		}
		if got.ID != "" {
			t.Errorf("Create with a refusing admit returned %+v, want the zero Invalidation", got)
		}
		if saw != before {
			t.Errorf("admit saw %+v, want %+v", saw, before)
		}
		if _, err := s.Get(ctx, "E1", inv.ID); !errors.Is(err, invalidation.ErrNotFound) {
			t.Errorf("Get(refused) = %v, want ErrNotFound", err)
		}
		if all := listAll(t, s, "E1", 100); !slices.Equal(ids(all), []string{first.ID}) {
			t.Errorf("List after a refused Create = %v, want only %s", ids(all), first.ID)
		}
		if after := usage(t, s, "E1"); after != before {
			t.Errorf("usage after a refused Create = %+v, want %+v", after, before)
		}
		wantCount(t, s, "E1", 1)
	}

	// The refused CallerReference was not taken.
	inv := m.inv("E1", "r2", "/c")
	got, created, err := s.Create(ctx, inv, allow)
	if err != nil || !created {
		t.Fatalf("Create reusing a refused CallerReference = created %v, err %v; want a new invalidation", created, err)
	}
	checkInv(t, "Create reusing a refused CallerReference", got, inv)

	wantInProgress(t, s, first.ID, inv.ID)
}

func testAdmitErrorNewDistribution(t *testing.T, s invalidation.Store) {
	var m maker
	inv := m.inv("ENEW", "r1", "/a")
	if _, _, err := s.Create(ctx, inv, func(invalidation.Usage) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("Create = %v, want the admit error", err)
	}
	page, more, err := s.List(ctx, "ENEW", "", 10)
	if err != nil || len(page) != 0 || more {
		t.Errorf("List of a distribution whose only Create was refused = %v, %v, %v; want empty", ids(page), more, err)
	}
	if _, _, err := s.List(ctx, "ENEW", inv.ID, 10); !errors.Is(err, invalidation.ErrMarkerNotFound) {
		t.Errorf("List with the refused Id as marker = %v, want ErrMarkerNotFound", err)
	}
	if got, err := s.InProgress(ctx); err != nil || len(got) != 0 {
		t.Errorf("InProgress = %v, %v; want none", ids(got), err)
	}
}

func testComplete(t *testing.T, s invalidation.Store) {
	var m maker
	a := mustCreate(t, s, m.inv("E1", "r1", "/a", "/b", "/c*"))
	b := mustCreate(t, s, m.inv("E1", "r2", "/d", "/e*", "/f*"))
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 3, WildcardPaths: 3})
	wantCount(t, s, "E1", 2)

	at := base.Add(time.Hour + 123*time.Millisecond)
	if err := s.Complete(ctx, "E1", a.ID, at); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 1, WildcardPaths: 2})
	wantCount(t, s, "E1", 1)
	a.Status, a.CompleteTime = invalidation.Completed, at
	checkGet(t, s, a)
	checkGet(t, s, b)

	// Again, later: a no-op. Usage does not move twice and the first
	// CompleteTime stays.
	if err := s.Complete(ctx, "E1", a.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("second Complete: %v", err)
	}
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 1, WildcardPaths: 2})
	wantCount(t, s, "E1", 1)
	checkGet(t, s, a)

	// A time in another zone is stored as the same instant.
	at2 := time.Date(2024, 5, 1, 15, 30, 0, 0, time.FixedZone("X", 5*3600))
	if err := s.Complete(ctx, "E1", b.ID, at2); err != nil {
		t.Fatal(err)
	}
	b.Status, b.CompleteTime = invalidation.Completed, at2
	checkGet(t, s, b)
	wantUsage(t, s, "E1", invalidation.Usage{})
	wantCount(t, s, "E1", 0)
}

func testCompleteUnknown(t *testing.T, s invalidation.Store) {
	var m maker
	a := mustCreate(t, s, m.inv("E1", "r1", "/a"))
	for _, c := range []struct{ dist, id string }{
		{"E1", "INOSUCHID00000"},
		{"ENOSUCHDIST", "INOSUCHID00000"},
		{"ENOSUCHDIST", a.ID},
	} {
		if err := s.Complete(ctx, c.dist, c.id, base); !errors.Is(err, invalidation.ErrNotFound) {
			t.Errorf("Complete(%s, %s) = %v, want ErrNotFound", c.dist, c.id, err)
		}
	}
	checkGet(t, s, a)
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 1})
}

// testCompleteAll checks CompleteAll against Complete's rules, item by
// item: an unknown item fails alone, a completed one stays as it was, an
// item twice in one call completes once.
func testCompleteAll(t *testing.T, s invalidation.Store) {
	var m maker
	a := mustCreate(t, s, m.inv("E1", "r1", "/a", "/b*"))
	b := mustCreate(t, s, m.inv("E1", "r2", "/c", "/d"))
	c := mustCreate(t, s, m.inv("E1", "r3", "/e*"))
	d := mustCreate(t, s, m.inv("E2", "r1", "/f"))
	e := mustCreate(t, s, m.inv("E2", "r2", "/g"))
	if errs := s.CompleteAll(ctx, nil); len(errs) != 0 {
		t.Errorf("CompleteAll(nil) = %v, want none", errs)
	}
	at := base.Add(time.Hour)
	if err := s.Complete(ctx, "E1", a.ID, at); err != nil {
		t.Fatal(err)
	}
	a.Status, a.CompleteTime = invalidation.Completed, at
	at2 := at.Add(time.Minute)
	at3 := time.Date(2024, 5, 1, 15, 30, 0, 0, time.FixedZone("X", 5*3600)) // the same instant in UTC
	items := []invalidation.CompleteItem{
		{DistributionID: "E1", ID: a.ID, At: at2}, // completed already: a no-op
		{DistributionID: "E1", ID: b.ID, At: at2},
		{DistributionID: "E1", ID: "INOSUCHID00000", At: at2},
		{DistributionID: "ENOSUCHDIST", ID: c.ID, At: at2},
		{DistributionID: "E2", ID: d.ID, At: at3},
		{DistributionID: "E1", ID: b.ID, At: at3}, // again in the same call: the first time stays
		{DistributionID: "E2", ID: "INOSUCHID00000", At: at2},
	}
	errs := s.CompleteAll(ctx, items)
	if len(errs) != len(items) {
		t.Fatalf("CompleteAll returned %d errors for %d items", len(errs), len(items))
	}
	for i, it := range items {
		wantNotFound := it.ID == "INOSUCHID00000" || it.DistributionID == "ENOSUCHDIST"
		if got := errs[i]; wantNotFound && !errors.Is(got, invalidation.ErrNotFound) || !wantNotFound && got != nil {
			t.Errorf("CompleteAll item %d (%s %s) = %v, want ErrNotFound %v", i, it.DistributionID, it.ID, got, wantNotFound)
		}
	}
	b.Status, b.CompleteTime = invalidation.Completed, at2
	d.Status, d.CompleteTime = invalidation.Completed, at3
	for _, want := range []invalidation.Invalidation{a, b, c, d, e} {
		checkGet(t, s, want)
	}
	wantUsage(t, s, "E1", invalidation.Usage{WildcardPaths: 1})
	wantCount(t, s, "E1", 1)
	wantUsage(t, s, "E2", invalidation.Usage{FilePaths: 1})
	wantCount(t, s, "E2", 1)
	wantInProgress(t, s, c.ID, e.ID)
}

// createOld creates n InProgress invalidations on E1 (CallerReferences
// old0, old1, …, each with a file and a wildcard path) for the concurrency
// tests to complete while new ones are created.
func createOld(t *testing.T, s invalidation.Store, m *maker, n int) []invalidation.Invalidation {
	t.Helper()
	invs := make([]invalidation.Invalidation, n)
	for i := range invs {
		invs[i] = mustCreate(t, s, m.inv("E1", fmt.Sprint("old", i), "/a", "/b*"))
	}
	return invs
}

// testConcurrentCompleteAll races CompleteAll calls with each other, with
// Complete and with creates: every invalidation completes once.
func testConcurrentCompleteAll(t *testing.T, s invalidation.Store) {
	const n = 48
	var m maker
	invs := createOld(t, s, &m, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i += 4 {
		var items []invalidation.CompleteItem
		for _, inv := range invs[i : i+4] {
			items = append(items, invalidation.CompleteItem{DistributionID: "E1", ID: inv.ID, At: base.Add(time.Hour)})
		}
		items = append(items, invalidation.CompleteItem{DistributionID: "E1", ID: "INOSUCHID00000", At: base})
		for range 2 {
			wg.Go(func() {
				<-start
				errs := s.CompleteAll(ctx, items)
				for j, err := range errs {
					if last := j == len(errs)-1; last && !errors.Is(err, invalidation.ErrNotFound) || !last && err != nil {
						t.Errorf("CompleteAll item %d: %v", j, err)
					}
				}
			})
		}
		wg.Go(func() {
			<-start
			if err := s.Complete(ctx, "E1", invs[i+1].ID, base.Add(time.Hour)); err != nil {
				t.Errorf("Complete: %v", err)
			}
		})
		inv := m.inv("E1", fmt.Sprint("new", i), "/c", "/d", "/e*")
		wg.Go(func() {
			<-start
			if _, _, err := s.Create(ctx, inv, allow); err != nil {
				t.Errorf("Create: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 2 * n / 4, WildcardPaths: n / 4})
	wantCount(t, s, "E1", n/4)
}

func testGetUnknown(t *testing.T, s invalidation.Store) {
	var m maker
	if _, err := s.Get(ctx, "E1", "INOSUCHID00000"); !errors.Is(err, invalidation.ErrNotFound) {
		t.Errorf("Get in an empty store = %v, want ErrNotFound", err)
	}
	mustCreate(t, s, m.inv("E1", "r1", "/a"))
	if _, err := s.Get(ctx, "E1", "INOSUCHID00000"); !errors.Is(err, invalidation.ErrNotFound) {
		t.Errorf("Get of an unknown Id = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "ENOSUCHDIST", "INOSUCHID00000"); !errors.Is(err, invalidation.ErrNotFound) {
		t.Errorf("Get in an unknown distribution = %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, s invalidation.Store) {
	var m maker
	var created []invalidation.Invalidation // oldest first
	for i := range 7 {
		created = append(created, mustCreate(t, s, m.inv("E1", fmt.Sprint("r", i), fmt.Sprint("/p", i))))
		// Another distribution interleaved: it must not show up.
		mustCreate(t, s, m.inv("E2", fmt.Sprint("r", i), "/other"))
	}
	newest := slices.Clone(created)
	slices.Reverse(newest)
	want := ids(newest)

	type call struct {
		marker   string
		limit    int
		wantIDs  []string
		wantMore bool
	}
	calls := []call{
		{"", 100, want, false},
		{"", 7, want, false},
		{"", 6, want[:6], true},
		{"", 1, want[:1], true},
		{"", 3, want[:3], true},
		{want[2], 3, want[3:6], true},
		{want[5], 3, want[6:], false},
		{want[3], 3, want[4:7], false},
		{want[0], 100, want[1:], false},
		{want[6], 100, nil, false}, // after the oldest
		{want[6], 1, nil, false},
	}
	for _, c := range calls {
		page, more, err := s.List(ctx, "E1", c.marker, c.limit)
		if err != nil {
			t.Errorf("List(marker %q, limit %d): %v", c.marker, c.limit, err)
			continue
		}
		if !slices.Equal(ids(page), c.wantIDs) || more != c.wantMore {
			t.Errorf("List(marker %q, limit %d) = %v more %v; want %v more %v", c.marker, c.limit, ids(page), more, c.wantIDs, c.wantMore)
		}
	}

	// Full records, not only Ids.
	page, _, err := s.List(ctx, "E1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range page {
		checkInv(t, fmt.Sprintf("List item %d", i), page[i], newest[i])
	}

	for _, limit := range []int{1, 2, 3, 5, 7} {
		if got := ids(listAll(t, s, "E1", limit)); !slices.Equal(got, want) {
			t.Errorf("paging with limit %d = %v, want %v", limit, got, want)
		}
	}

	// Markers must name an invalidation of this distribution.
	e2, _, err := s.List(ctx, "E2", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"INOSUCHID00000", e2[0].ID} {
		if _, _, err := s.List(ctx, "E1", marker, 10); !errors.Is(err, invalidation.ErrMarkerNotFound) {
			t.Errorf("List(E1, marker %q) = %v, want ErrMarkerNotFound", marker, err)
		}
	}
}

func testListEmpty(t *testing.T, s invalidation.Store) {
	page, more, err := s.List(ctx, "EEMPTY", "", 10)
	if err != nil || len(page) != 0 || more {
		t.Errorf("List of an empty distribution = %v more %v err %v; want nothing", ids(page), more, err)
	}
	if _, _, err := s.List(ctx, "EEMPTY", "INOSUCHID00000", 10); !errors.Is(err, invalidation.ErrMarkerNotFound) {
		t.Errorf("List of an empty distribution with a marker = %v, want ErrMarkerNotFound", err)
	}
	// Other distributions having invalidations changes nothing.
	var m maker
	mustCreate(t, s, m.inv("E1", "r1", "/a"))
	page, more, err = s.List(ctx, "EEMPTY", "", 10)
	if err != nil || len(page) != 0 || more {
		t.Errorf("List of an empty distribution = %v more %v err %v; want nothing", ids(page), more, err)
	}
}

func testListIncludesCompleted(t *testing.T, s invalidation.Store) {
	var m maker
	a := mustCreate(t, s, m.inv("E1", "r1", "/a"))
	b := mustCreate(t, s, m.inv("E1", "r2", "/b"))
	c := mustCreate(t, s, m.inv("E1", "r3", "/c"))
	if err := s.Complete(ctx, "E1", b.ID, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	page, more, err := s.List(ctx, "E1", "", 10)
	if err != nil || more {
		t.Fatalf("List = more %v, err %v", more, err)
	}
	if got, want := ids(page), []string{c.ID, b.ID, a.ID}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v: completing must not reorder", got, want)
	}
	if page[1].Status != invalidation.Completed || page[0].Status != invalidation.InProgress {
		t.Errorf("List statuses = %s, %s, %s", page[0].Status, page[1].Status, page[2].Status)
	}
}

func testInProgress(t *testing.T, s invalidation.Store) {
	got, err := s.InProgress(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("InProgress of an empty store = %v, %v", ids(got), err)
	}
	wantCount(t, s, "E1", 0)
	var m maker
	var all []invalidation.Invalidation // oldest first, across distributions
	for i := range 6 {
		dist := []string{"E1", "E2", "E3"}[i%3]
		all = append(all, mustCreate(t, s, m.inv(dist, fmt.Sprint("r", i), "/a", "/b*")))
	}
	at := base.Add(time.Hour)
	for _, i := range []int{1, 4} {
		if err := s.Complete(ctx, all[i].DistributionID, all[i].ID, at); err != nil {
			t.Fatal(err)
		}
	}
	want := []invalidation.Invalidation{all[0], all[2], all[3], all[5]}
	// E1 holds 0 and 3, E2 1 (completed) and 4 (completed), E3 2 and 5.
	wantCount(t, s, "E1", 2)
	wantCount(t, s, "E2", 0)
	wantCount(t, s, "E3", 2)
	wantCount(t, s, "ENOSUCHDIST", 0)
	// Distribution Ids that are prefixes of others are counted apart.
	mustCreate(t, s, m.inv("E", "prefix", "/a"))
	mustCreate(t, s, m.inv("E1X", "prefix", "/a"))
	wantCount(t, s, "E", 1)
	wantCount(t, s, "E1", 2)
	wantCount(t, s, "E1X", 1)
	got, err = s.InProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got = slices.DeleteFunc(got, func(inv invalidation.Invalidation) bool { return inv.Batch.CallerReference == "prefix" })
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("InProgress = %v, want %v (oldest first)", ids(got), ids(want))
	}
	for i := range got {
		checkInv(t, "InProgress item", got[i], want[i])
	}
}

// testConcurrentCreate: 64 goroutines create at once, 50 of them with one
// CallerReference. Exactly one of the 50 is created, all 50 get it back,
// and the usage is that of the 15 records.
func testConcurrentCreate(t *testing.T, s invalidation.Store) {
	const n, shared = 64, 50
	var m maker
	type result struct {
		inv     invalidation.Invalidation
		got     invalidation.Invalidation
		created bool
		err     error
	}
	results := make([]result, n)
	invs := make([]invalidation.Invalidation, n)
	for i := range invs {
		ref := "shared"
		if i >= shared {
			ref = fmt.Sprint("unique-", i)
		}
		invs[i] = m.inv("E1", ref, "/a", "/b", "/c*")
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got, created, err := s.Create(ctx, invs[i], allow)
			results[i] = result{invs[i], got, created, err}
		})
	}
	close(start)
	wg.Wait()

	var winner string
	createdShared := 0
	for i, r := range results[:shared] {
		if r.err != nil {
			t.Fatalf("Create %d: %v", i, r.err)
		}
		if r.created {
			createdShared++
			winner = r.got.ID
			checkInv(t, "created shared", r.got, r.inv)
		}
	}
	if createdShared != 1 {
		t.Fatalf("%d of %d Creates with one CallerReference returned created = true, want 1", createdShared, shared)
	}
	for i, r := range results[:shared] {
		if r.got.ID != winner {
			t.Errorf("Create %d with the shared CallerReference returned %s, want the one created: %s", i, r.got.ID, winner)
		}
	}
	for i, r := range results[shared:] {
		if r.err != nil || !r.created {
			t.Errorf("Create with a unique CallerReference %d: created %v, err %v", i, r.created, r.err)
		}
		checkInv(t, "unique", r.got, r.inv)
	}

	all := listAll(t, s, "E1", 7)
	if len(all) != 1+n-shared {
		t.Errorf("List has %d records, want %d", len(all), 1+n-shared)
	}
	refs := map[string]int{}
	for _, inv := range all {
		refs[inv.Batch.CallerReference]++
	}
	for ref, c := range refs {
		if c != 1 {
			t.Errorf("CallerReference %q has %d records", ref, c)
		}
	}
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 2 * len(all), WildcardPaths: len(all)})
	wantCount(t, s, "E1", len(all))
	inProgress, err := s.InProgress(ctx)
	if err != nil || len(inProgress) != len(all) {
		t.Errorf("InProgress = %d records, err %v; want %d", len(inProgress), err, len(all))
	}
}

// testConcurrentAdmit: admit sees the usage of every Create admitted before
// it, even when they run at once, so a limit holds exactly.
func testConcurrentAdmit(t *testing.T, s invalidation.Store) {
	const n, limit = 64, 20
	limits := invalidation.Limits{MaxInProgressFilePaths: limit, MaxInProgressWildcardPaths: limit}
	var m maker
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted, refused := 0, 0
	start := make(chan struct{})
	for i := range n {
		inv := m.inv("E1", fmt.Sprint("r", i), "/a", "/b*")
		wg.Go(func() {
			<-start
			_, created, err := s.Create(ctx, inv, func(u invalidation.Usage) error {
				return limits.Admit(u, invalidation.Usage{FilePaths: 1, WildcardPaths: 1})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && created:
				admitted++
			case invalidation.CodeOf(err) == invalidation.CodeTooManyInvalidationsInProgress:
				refused++
			default:
				t.Errorf("Create: created %v, err %v", created, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted != limit || refused != n-limit {
		t.Errorf("admitted %d and refused %d, want %d and %d", admitted, refused, limit, n-limit)
	}
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: limit, WildcardPaths: limit})
	if all := listAll(t, s, "E1", 100); len(all) != limit {
		t.Errorf("List has %d records, want %d", len(all), limit)
	}
}

// testConcurrentAdmitErrorsAreIsolated: one Create's admit refusing (with
// any error) fails that Create only, not others running at the same time.
func testConcurrentAdmitErrorsAreIsolated(t *testing.T, s invalidation.Store) {
	const n = 64
	plain := errors.New("refused with a plain error")
	var m maker
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	invs := make([]invalidation.Invalidation, n)
	for i := range n {
		invs[i] = m.inv("E1", fmt.Sprint("r", i), "/a")
		wg.Go(func() {
			<-start
			_, _, errs[i] = s.Create(ctx, invs[i], func(invalidation.Usage) error {
				switch i % 4 {
				case 1:
					return refuse
				case 3:
					return plain
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		var want error
		switch i % 4 {
		case 1:
			want = refuse
		case 3:
			want = plain
		}
		if want == nil && err != nil {
			t.Errorf("Create %d, which admit allowed, failed: %v", i, err)
		}
		if want != nil && !errors.Is(err, want) {
			t.Errorf("Create %d = %v, want %v", i, err, want)
		}
	}
}

func testConcurrentCreateAndComplete(t *testing.T, s invalidation.Store) {
	const n = 48
	var m maker
	invs := createOld(t, s, &m, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		inv := m.inv("E1", fmt.Sprint("new", i), "/c", "/d", "/e*")
		wg.Go(func() {
			<-start
			if _, _, err := s.Create(ctx, inv, allow); err != nil {
				t.Errorf("Create: %v", err)
			}
		})
		wg.Go(func() {
			<-start
			// Completed twice at once: usage must drop once.
			if err := s.Complete(ctx, "E1", invs[i].ID, base.Add(time.Hour)); err != nil {
				t.Errorf("Complete: %v", err)
			}
		})
		wg.Go(func() {
			<-start
			if err := s.Complete(ctx, "E1", invs[i].ID, base.Add(2*time.Hour)); err != nil {
				t.Errorf("Complete: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 2 * n, WildcardPaths: n})
	wantCount(t, s, "E1", n)
	inProgress, err := s.InProgress(ctx)
	if err != nil || len(inProgress) != n {
		t.Errorf("InProgress = %d records, err %v; want %d", len(inProgress), err, n)
	}
}

func testCopies(t *testing.T, s invalidation.Store) {
	var m maker
	in := m.inv("E1", "r1", "/a", "/b")
	want := in
	want.Batch.Paths = slices.Clone(in.Batch.Paths)

	got, _, err := s.Create(ctx, in, allow)
	if err != nil {
		t.Fatal(err)
	}
	// The caller's slice and the returned one are the caller's to change.
	in.Batch.Paths[0] = "/changed-input"
	got.Batch.Paths[1] = "/changed-create"
	checkGet(t, s, want)

	replay, _, err := s.Create(ctx, m.inv("E1", "r1", "/a", "/b"), allow)
	if err != nil {
		t.Fatal(err)
	}
	replay.Batch.Paths[0] = "/changed-replay"
	checkGet(t, s, want)

	g, err := s.Get(ctx, "E1", want.ID)
	if err != nil {
		t.Fatal(err)
	}
	g.Batch.Paths[0] = "/changed-get"
	checkGet(t, s, want)

	page, _, err := s.List(ctx, "E1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	page[0].Batch.Paths[0] = "/changed-list"
	page[0].Status = invalidation.Completed
	checkGet(t, s, want)

	ip, err := s.InProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ip[0].Batch.Paths[0] = "/changed-inprogress"
	checkGet(t, s, want)

	got2, _, err := s.Create(ctx, m.inv("E1", "r1", "/a", "/b"), allow)
	if err != nil {
		t.Fatal(err)
	}
	checkInv(t, "replay after mutations", got2, want)
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 2})
}

func testLongCallerReference(t *testing.T, s invalidation.Store) {
	var m maker
	long := strings.Repeat("x", 5000)
	a := mustCreate(t, s, m.inv("E1", long, "/a"))
	// Differs only in the last byte.
	b := mustCreate(t, s, m.inv("E1", long[:4999]+"y", "/b"))
	// Unicode and separators.
	c := mustCreate(t, s, m.inv("E1", "ref/with\x00nul and ü", "/c"))
	for _, want := range []invalidation.Invalidation{a, b, c} {
		got, created, err := s.Create(ctx, m.inv("E1", want.Batch.CallerReference, "/other"), allow)
		if err != nil || created {
			t.Errorf("replay of %.20q: created %v, err %v", want.Batch.CallerReference, created, err)
		}
		checkInv(t, "replay", got, want)
	}
}

// testWriteAfterClose: writes to a closed store return (an error, for
// stores that can fail) instead of blocking.
func testWriteAfterClose(t *testing.T, s invalidation.Store) {
	var m maker
	a := mustCreate(t, s, m.inv("E1", "r0", "/a"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Several times: a race between "closed" and "queue has room"
		// must never be won by the queue.
		for i := range 50 {
			s.Create(ctx, m.inv("E1", fmt.Sprint("r", i+1), "/b"), allow)
			s.Complete(ctx, "E1", a.ID, base)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Create or Complete on a closed store blocked for 10s")
	}
}

func testReopen(t *testing.T, open func(t *testing.T, dir string) invalidation.Store) {
	dir := t.TempDir()
	var m maker
	s := open(t, dir)
	a := mustCreate(t, s, m.inv("E1", "r1", "/a", "/b*"))
	b := mustCreate(t, s, m.inv("E1", "r2", "/c", "/d", "/e*"))
	c := mustCreate(t, s, m.inv("E2", "r1", "/f*"))
	d := mustCreate(t, s, m.inv("E1", "r3", "/g"))
	at := base.Add(time.Hour)
	if err := s.Complete(ctx, "E1", b.ID, at); err != nil {
		t.Fatal(err)
	}
	b.Status, b.CompleteTime = invalidation.Completed, at
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	check := func(s invalidation.Store) {
		t.Helper()
		for _, want := range []invalidation.Invalidation{a, b, c, d} {
			checkGet(t, s, want)
		}
		if got, want := ids(listAll(t, s, "E1", 2)), []string{d.ID, b.ID, a.ID}; !slices.Equal(got, want) {
			t.Errorf("List(E1) = %v, want %v", got, want)
		}
		if got, want := ids(listAll(t, s, "E2", 2)), []string{c.ID}; !slices.Equal(got, want) {
			t.Errorf("List(E2) = %v, want %v", got, want)
		}
		ip, err := s.InProgress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(ip), []string{a.ID, c.ID, d.ID}; !slices.Equal(got, want) {
			t.Errorf("InProgress = %v, want %v", got, want)
		}
		// Replays still find the originals.
		for _, want := range []invalidation.Invalidation{a, b, c} {
			got, created, err := s.Create(ctx, m.inv(want.DistributionID, want.Batch.CallerReference, "/replay"), allow)
			if err != nil || created {
				t.Errorf("replay of %s after reopen: created %v, err %v", want.ID, created, err)
			}
			checkInv(t, "replay after reopen", got, want)
		}
	}

	s = open(t, dir)
	check(s)
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 2, WildcardPaths: 1})
	wantUsage(t, s, "E2", invalidation.Usage{WildcardPaths: 1})
	wantCount(t, s, "E1", 2)
	wantCount(t, s, "E2", 1)

	// Completing after reopen moves the usage the reopened store derived;
	// CompleteAll's completions last too.
	if errs := s.CompleteAll(ctx, []invalidation.CompleteItem{{DistributionID: "E1", ID: d.ID, At: at}, {DistributionID: "E1", ID: "INOSUCHID00000", At: at}}); len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], invalidation.ErrNotFound) {
		t.Fatalf("CompleteAll = %v, want [nil ErrNotFound]", errs)
	}
	d.Status, d.CompleteTime = invalidation.Completed, at
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 1, WildcardPaths: 1})
	e := mustCreate(t, s, m.inv("E1", "r4", "/h*"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, dir)
	defer s.Close()
	for _, want := range []invalidation.Invalidation{a, b, c, d, e} {
		checkGet(t, s, want)
	}
	if got, want := ids(listAll(t, s, "E1", 100)), []string{e.ID, d.ID, b.ID, a.ID}; !slices.Equal(got, want) {
		t.Errorf("List(E1) after the second reopen = %v, want %v", got, want)
	}
	wantUsage(t, s, "E1", invalidation.Usage{FilePaths: 1, WildcardPaths: 2})
	wantCount(t, s, "E1", 2)
	ip, err := s.InProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(ip), []string{a.ID, c.ID, e.ID}; !slices.Equal(got, want) {
		t.Errorf("InProgress after the second reopen = %v, want %v", got, want)
	}
}

func testReopenAfterConcurrentWrites(t *testing.T, open func(t *testing.T, dir string) invalidation.Store) {
	dir := t.TempDir()
	const n = 64
	var m maker
	s := open(t, dir)
	// Four distributions of 16 invalidations, half of each completed.
	completed := func(i int) bool { return (i/4)%2 == 0 }
	invs := make([]invalidation.Invalidation, n)
	for i := range invs {
		invs[i] = m.inv(fmt.Sprint("E", i%4), fmt.Sprint("r", i), "/a", "/b*")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, _, err := s.Create(ctx, invs[i], allow); err != nil {
				t.Errorf("Create: %v", err)
				return
			}
			if completed(i) {
				if err := s.Complete(ctx, invs[i].DistributionID, invs[i].ID, base.Add(time.Hour)); err != nil {
					t.Errorf("Complete: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	for i, want := range invs {
		if completed(i) {
			want.Status, want.CompleteTime = invalidation.Completed, base.Add(time.Hour)
		}
		checkGet(t, s, want)
	}
	for d := range 4 {
		wantUsage(t, s, fmt.Sprint("E", d), invalidation.Usage{FilePaths: n / 8, WildcardPaths: n / 8})
		wantCount(t, s, fmt.Sprint("E", d), n/8)
	}
	ip, err := s.InProgress(ctx)
	if err != nil || len(ip) != n/2 {
		t.Errorf("InProgress = %d, %v; want %d", len(ip), err, n/2)
	}
}

// testCloseWaitsForWrites: Close while Creates are under way. Each Create
// either fails or reports success, and every success is found after reopen.
func testCloseWaitsForWrites(t *testing.T, open func(t *testing.T, dir string) invalidation.Store) {
	dir := t.TempDir()
	const n = 200
	var m maker
	s := open(t, dir)
	mustCreate(t, s, m.inv("E1", "first", "/a")) // the store is up
	var wg sync.WaitGroup
	ok := make([]bool, n)
	invs := make([]invalidation.Invalidation, n)
	for i := range invs {
		invs[i] = m.inv("E1", fmt.Sprint("r", i), "/a")
	}
	for i := range n {
		wg.Go(func() {
			_, created, err := s.Create(ctx, invs[i], allow)
			ok[i] = err == nil && created
		})
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Creates racing Close did not all return within 10s")
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, dir)
	defer s.Close()
	succeeded := 0
	for i, inv := range invs {
		if !ok[i] {
			continue
		}
		succeeded++
		checkGet(t, s, inv)
	}
	t.Logf("%d of %d Creates racing Close succeeded", succeeded, n)
}

// idShape is what CloudFront's invalidation Ids look like.
func idShape(id string) bool {
	if len(id) != 14 || id[0] != 'I' {
		return false
	}
	for _, c := range id[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// assigned is m.inv with no Id: the store gives one.
func (m *maker) assigned(dist, ref string, paths ...string) invalidation.Invalidation {
	inv := m.inv(dist, ref, paths...)
	inv.ID = ""
	return inv
}

// testAssignedIDs: with an empty Id, Create gives a fresh Id shaped like
// CloudFront's, unique, which Get, List, Complete and replays all know; it
// mixes with Ids the caller chose.
func testAssignedIDs(t *testing.T, s invalidation.Store) {
	var m maker
	seen := map[string]bool{}
	var e1 []invalidation.Invalidation
	for i := range 120 {
		dist := "E1"
		if i%3 == 2 {
			dist = "E2"
		}
		var got invalidation.Invalidation
		if i == 50 {
			got = mustCreate(t, s, m.inv(dist, fmt.Sprint("r", i), "/own-id"))
		} else {
			got = mustCreate(t, s, m.assigned(dist, fmt.Sprint("r", i), fmt.Sprint("/p", i)))
			if !idShape(got.ID) {
				t.Fatalf("assigned Id %q is not shaped like CloudFront's", got.ID)
			}
		}
		if seen[got.ID] {
			t.Fatalf("Id %s handed out twice", got.ID)
		}
		seen[got.ID] = true
		if dist == "E1" {
			e1 = append(e1, got)
		}
	}
	for _, want := range e1 {
		checkGet(t, s, want)
		if _, err := s.Get(ctx, "E2", want.ID); !errors.Is(err, invalidation.ErrNotFound) {
			t.Errorf("Get(E2, %s of E1) = %v, want ErrNotFound", want.ID, err)
		}
	}
	var want []string
	for i := len(e1) - 1; i >= 0; i-- {
		want = append(want, e1[i].ID)
	}
	for _, limit := range []int{1, 7, 100} {
		if got := ids(listAll(t, s, "E1", limit)); !slices.Equal(got, want) {
			t.Fatalf("List(E1, page %d) = %v, want %v", limit, got, want)
		}
	}
	at := base.Add(time.Hour)
	for i, inv := range e1 {
		if i%2 == 0 {
			if err := s.Complete(ctx, "E1", inv.ID, at); err != nil {
				t.Fatalf("Complete(%s): %v", inv.ID, err)
			}
			e1[i].Status, e1[i].CompleteTime = invalidation.Completed, at
		}
	}
	for _, want := range e1 {
		checkGet(t, s, want)
		got, created, err := s.Create(ctx, m.assigned("E1", want.Batch.CallerReference, "/replay"), allow)
		if err != nil || created {
			t.Fatalf("replay of %s: created %v, err %v", want.ID, created, err)
		}
		checkInv(t, "replay", got, want)
	}
	for i, inv := range listAll(t, s, "E1", 10) {
		checkInv(t, "List", inv, e1[len(e1)-1-i])
	}
	if _, err := s.Get(ctx, "E1", "I0000000000000"); !errors.Is(err, invalidation.ErrNotFound) {
		t.Errorf("Get of an Id never handed out: %v, want ErrNotFound", err)
	}
	if _, _, err := s.List(ctx, "E1", "I0000000000000", 10); !errors.Is(err, invalidation.ErrMarkerNotFound) {
		t.Errorf("List after an Id never handed out: %v, want ErrMarkerNotFound", err)
	}
	if err := s.Complete(ctx, "E1", "I0000000000000", at); !errors.Is(err, invalidation.ErrNotFound) {
		t.Errorf("Complete of an Id never handed out: %v, want ErrNotFound", err)
	}
}

// testAssignedIDsConcurrent: concurrent creates get distinct Ids.
func testAssignedIDsConcurrent(t *testing.T, s invalidation.Store) {
	var m maker
	const n = 200
	got := make([]invalidation.Invalidation, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv, created, err := s.Create(ctx, m.assigned("E1", fmt.Sprint("r", i), "/x"), allow)
			if err != nil || !created {
				t.Errorf("Create: created %v, err %v", created, err)
			}
			got[i] = inv
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, inv := range got {
		if seen[inv.ID] {
			t.Fatalf("Id %s handed out twice", inv.ID)
		}
		seen[inv.ID] = true
		checkGet(t, s, inv)
	}
}

// testAssignedIDsAfterDelete: a store that also deletes distributions
// (distribution.Store) never hands a distribution created again under the
// same Id an Id of its deleted invalidations ("unique in the distribution
// for good").
func testAssignedIDsAfterDelete(t *testing.T, s invalidation.Store) {
	del, ok := s.(distribution.Store)
	if !ok {
		t.Skip("the store does not delete distributions")
	}
	e1 := sampleDist("E1", 1)
	mustCreateDist(t, del, e1)
	var m maker
	seen := map[string]bool{}
	var before []invalidation.Invalidation
	for i := range 5 {
		inv := mustCreate(t, s, m.assigned("E1", fmt.Sprint("r", i), "/a"))
		seen[inv.ID] = true
		before = append(before, inv)
	}
	if err := del.DeleteDistribution(ctx, "E1", nil); err != nil {
		t.Fatal(err)
	}
	mustCreateDist(t, del, e1)
	for _, old := range before {
		if _, err := s.Get(ctx, "E1", old.ID); !errors.Is(err, invalidation.ErrNotFound) {
			t.Errorf("Get(%s) after deleting its distribution = %v, want ErrNotFound", old.ID, err)
		}
	}
	for i := range 5 {
		inv := mustCreate(t, s, m.assigned("E1", fmt.Sprint("r", i), "/a"))
		if seen[inv.ID] {
			t.Fatalf("Id %s handed out again after its distribution was deleted", inv.ID)
		}
		seen[inv.ID] = true
	}
	wantCount(t, s, "E1", 5)
}

// testReopenAssignedIDs: assigned Ids survive a reopen, and Ids assigned
// after it never repeat one from before.
func testReopenAssignedIDs(t *testing.T, open func(t *testing.T, dir string) invalidation.Store) {
	dir := t.TempDir()
	var m maker
	s := open(t, dir)
	var before []invalidation.Invalidation
	for i := range 20 {
		before = append(before, mustCreate(t, s, m.assigned("E1", fmt.Sprint("a", i), "/a")))
	}
	at := base.Add(time.Hour)
	if err := s.Complete(ctx, "E1", before[3].ID, at); err != nil {
		t.Fatal(err)
	}
	before[3].Status, before[3].CompleteTime = invalidation.Completed, at
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	seen := map[string]bool{}
	for _, want := range before {
		checkGet(t, s, want)
		seen[want.ID] = true
	}
	all := slices.Clone(before)
	for i := range 20 {
		inv := mustCreate(t, s, m.assigned("E1", fmt.Sprint("b", i), "/b"))
		if seen[inv.ID] {
			t.Fatalf("Id %s handed out again after reopen", inv.ID)
		}
		seen[inv.ID] = true
		all = append(all, inv)
	}
	var want []string
	for i := len(all) - 1; i >= 0; i-- {
		want = append(want, all[i].ID)
	}
	if got := ids(listAll(t, s, "E1", 6)); !slices.Equal(got, want) {
		t.Errorf("List after reopen = %v, want %v", got, want)
	}
	wantCount(t, s, "E1", 39)
}
