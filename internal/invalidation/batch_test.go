package invalidation_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

// batching is a BatchApplier that records its batches. While hold is not
// nil, ApplyAll waits for it to close (or ctx to end) first. Items whose
// CallerReference is in fail fail in ApplyAll, once each.
type batching struct {
	mu      sync.Mutex
	batches [][]string // CallerReferences per ApplyAll
	applied []string   // CallerReferences per Apply
	hold    chan struct{}
	fail    map[string]bool
}

func (b *batching) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applied = append(b.applied, inv.Batch.CallerReference)
	return nil
}

func (b *batching) ApplyAll(ctx context.Context, invs []invalidation.Invalidation, done func(int, error)) {
	b.mu.Lock()
	var refs []string
	for _, inv := range invs {
		refs = append(refs, inv.Batch.CallerReference)
	}
	b.batches = append(b.batches, refs)
	hold := b.hold
	b.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			for i := range invs {
				done(i, ctx.Err())
			}
			return
		}
	}
	for i, inv := range invs {
		b.mu.Lock()
		failing := b.fail[inv.Batch.CallerReference]
		delete(b.fail, inv.Batch.CallerReference)
		b.mu.Unlock()
		if failing {
			done(i, errors.New("edge unreachable"))
		} else {
			done(i, nil)
		}
	}
}

func (b *batching) get() (batches [][]string, applied []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.batches), slices.Clone(b.applied)
}

func createN(t *testing.T, svc *invalidation.Service, refs ...string) []string {
	t.Helper()
	var ids []string
	for _, ref := range refs {
		inv, created, err := svc.Create(ctx, "E1", batch(ref, "/"+ref))
		if err != nil || !created {
			t.Fatalf("Create(%s) = created %v, err %v", ref, created, err)
		}
		ids = append(ids, inv.ID)
	}
	return ids
}

// What is created while a batch is being applied is applied together in
// the next one, and each is Completed when its batch is done.
func TestServiceAppliesQueuedTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		applier := &batching{hold: hold}
		svc := newService(memory.New(), applier)
		defer svc.Close()
		start := time.Now()
		first := createN(t, svc, "r0")
		synctest.Wait() // the worker holds [r0]
		refs := []string{"r1", "r2", "r3", "r4", "r5"}
		rest := createN(t, svc, refs...)
		synctest.Wait()
		for _, id := range append(first, rest...) {
			wantStatus(t, svc, id, invalidation.InProgress, time.Time{})
		}
		time.Sleep(time.Second)
		applier.mu.Lock()
		applier.hold = nil
		applier.mu.Unlock()
		close(hold)
		synctest.Wait()
		batches, applied := applier.get()
		if want := [][]string{{"r0"}, refs}; !slices.EqualFunc(batches, want, slices.Equal) {
			t.Errorf("batches %q, want %q", batches, want)
		}
		if len(applied) != 0 {
			t.Errorf("Apply called for %q; want ApplyAll only", applied)
		}
		for _, id := range append(first, rest...) {
			wantStatus(t, svc, id, invalidation.Completed, start.Add(time.Second))
		}
	})
}

// A batch is at most 256 invalidations: more queued take several.
func TestServiceBatchBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		applier := &batching{hold: hold}
		store := memory.New()
		svc := newService(store, applier)
		defer svc.Close()
		createN(t, svc, "first")
		synctest.Wait()
		var refs []string
		for i := range 300 {
			refs = append(refs, "r"+string(rune('A'+i/26/26%26))+string(rune('A'+i/26%26))+string(rune('A'+i%26)))
		}
		// A limit of 3000 in-progress paths leaves room for 301.
		createN(t, svc, refs...)
		applier.mu.Lock()
		applier.hold = nil
		applier.mu.Unlock()
		close(hold)
		synctest.Wait()
		batches, _ := applier.get()
		var sizes []int
		for _, b := range batches {
			sizes = append(sizes, len(b))
		}
		if !slices.Equal(sizes, []int{1, 256, 44}) {
			t.Errorf("batch sizes %v, want [1 256 44]", sizes)
		}
		if n, err := svc.InProgressBatches(ctx, "E1"); err != nil || n != 0 {
			t.Errorf("%d in progress (%v), want 0", n, err)
		}
	})
}

// An item that fails in a batch is retried on its own, with the backoff
// of a lone invalidation; the others of its batch are Completed at once.
func TestServiceBatchRetriesFailedAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		applier := &batching{hold: make(chan struct{}), fail: map[string]bool{"bad": true}}
		svc := newService(memory.New(), applier)
		defer svc.Close()
		start := time.Now()
		createN(t, svc, "r0")
		synctest.Wait()
		ids := createN(t, svc, "a", "bad", "b")
		applier.mu.Lock()
		close(applier.hold)
		applier.hold = nil
		applier.mu.Unlock()
		synctest.Wait()
		wantStatus(t, svc, ids[0], invalidation.Completed, start)
		wantStatus(t, svc, ids[2], invalidation.Completed, start)
		wantStatus(t, svc, ids[1], invalidation.InProgress, time.Time{})
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		wantStatus(t, svc, ids[1], invalidation.InProgress, time.Time{})
		time.Sleep(time.Millisecond)
		synctest.Wait()
		wantStatus(t, svc, ids[1], invalidation.Completed, start.Add(50*time.Millisecond))
		batches, applied := applier.get()
		if want := [][]string{{"r0"}, {"a", "bad", "b"}}; !slices.EqualFunc(batches, want, slices.Equal) {
			t.Errorf("batches %q, want %q", batches, want)
		}
		if !slices.Equal(applied, []string{"bad"}) {
			t.Errorf("Apply called for %q, want [bad]", applied)
		}
	})
}

// Close while a batch is being applied and more are queued: Close returns,
// everything stays InProgress, and the next service completes it all.
func TestServiceCloseWithBatchesPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		applier := &batching{hold: make(chan struct{})} // never released
		svc := newService(store, applier)
		ids := createN(t, svc, "r0")
		synctest.Wait()
		ids = append(ids, createN(t, svc, "r1", "r2")...)
		svc.Close()
		// Created after Close: stays InProgress too.
		late, _, err := svc.Create(ctx, "E1", batch("late", "/late"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, late.ID)
		synctest.Wait()
		for _, id := range ids {
			wantStatus(t, svc, id, invalidation.InProgress, time.Time{})
		}
		if batches, _ := applier.get(); len(batches) != 1 {
			t.Errorf("batches %q after Close, want the first only", batches)
		}

		next := &batching{}
		svc = newService(store, next)
		defer svc.Close()
		if err := svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, id := range ids {
			wantStatus(t, svc, id, invalidation.Completed, time.Now())
		}
		if batches, _ := next.get(); len(batches) != 1 || len(batches[0]) != 4 {
			t.Errorf("resumed in batches %q, want one of 4", batches)
		}
	})
}

// The delay applier completes each invalidation of a batch at its own
// CreateTime + Delay, whatever its place in the batch.
func TestDelayApplierApplyAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		d := invalidation.DelayApplier{Delay: time.Minute}
		invs := []invalidation.Invalidation{
			{CreateTime: start.Add(-10 * time.Second)}, // due in 50s
			{CreateTime: start.Add(-2 * time.Minute)},  // overdue
			{CreateTime: start.Add(-50 * time.Second)}, // due in 10s
		}
		var mu sync.Mutex
		at := make([]time.Duration, len(invs))
		calls := 0
		d.ApplyAll(ctx, invs, func(i int, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("item %d: %v", i, err)
			}
			at[i] = time.Since(start)
			calls++
		})
		mu.Lock()
		if calls != 1 {
			t.Errorf("%d done before ApplyAll returned, want the overdue one", calls)
		}
		mu.Unlock()
		time.Sleep(time.Hour)
		mu.Lock()
		if want := []time.Duration{50 * time.Second, 0, 10 * time.Second}; !slices.Equal(at, want) || calls != 3 {
			t.Errorf("done at %v (%d calls), want %v", at, calls, want)
		}
		mu.Unlock()
		// A canceled context ends the waits with its error.
		c, cancel := context.WithCancel(ctx)
		errs := make(chan error, 1)
		d.ApplyAll(c, []invalidation.Invalidation{{CreateTime: time.Now()}}, func(_ int, err error) { errs <- err })
		cancel()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("canceled: %v", err)
		}
	})
}

// With the delay applier (a BatchApplier), invalidations created apart are
// each Completed at their own CreateTime + Delay: none waits for another.
func TestServiceDelayPerInvalidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(memory.New(), invalidation.DelayApplier{Delay: time.Minute})
		defer svc.Close()
		start := time.Now()
		a := createN(t, svc, "a")[0]
		time.Sleep(30 * time.Second)
		b := createN(t, svc, "b")[0]
		time.Sleep(30 * time.Second)
		synctest.Wait()
		wantStatus(t, svc, a, invalidation.Completed, start.Add(time.Minute))
		wantStatus(t, svc, b, invalidation.InProgress, time.Time{})
		time.Sleep(30 * time.Second)
		synctest.Wait()
		wantStatus(t, svc, b, invalidation.Completed, start.Add(90*time.Second))
	})
}

// completeAllStore is a memory store that records its CompleteAll and
// Complete calls (Ids) and fails the items in fail, once each, with their
// error and without completing them.
type completeAllStore struct {
	*memory.Store
	mu   sync.Mutex
	all  [][]string // Ids per CompleteAll
	one  []string   // Ids per Complete
	fail map[string]error
}

func (s *completeAllStore) CompleteAll(ctx context.Context, items []invalidation.CompleteItem) []error {
	s.mu.Lock()
	var ids []string
	var pass []invalidation.CompleteItem
	errs := make([]error, len(items))
	for i, it := range items {
		ids = append(ids, it.ID)
		if err, ok := s.fail[it.ID]; ok {
			delete(s.fail, it.ID)
			errs[i] = err
			continue
		}
		pass = append(pass, it)
	}
	s.all = append(s.all, ids)
	s.mu.Unlock()
	passErrs := s.Store.CompleteAll(ctx, pass)
	for i := range errs {
		if errs[i] == nil {
			errs[i], passErrs = passErrs[0], passErrs[1:]
		}
	}
	return errs
}

func (s *completeAllStore) Complete(ctx context.Context, distributionID, id string, at time.Time) error {
	s.mu.Lock()
	s.one = append(s.one, id)
	s.mu.Unlock()
	return s.Store.Complete(ctx, distributionID, id, at)
}

// A batch is recorded Completed with one CompleteAll; an item that call
// fails is retried on its own (Apply, then Complete) after the backoff,
// and one it reports gone (ErrNotFound) counts as done: neither holds
// back the others.
func TestServiceBatchCompleteAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &completeAllStore{Store: memory.New(), fail: map[string]error{}}
		applier := &batching{hold: make(chan struct{})}
		svc := newService(store, applier)
		defer svc.Close()
		start := time.Now()
		first := createN(t, svc, "r0")
		synctest.Wait()
		ids := createN(t, svc, "a", "gone", "bad", "b")
		store.mu.Lock()
		store.fail[ids[1]] = invalidation.ErrNotFound
		store.fail[ids[2]] = errors.New("disk full")
		store.mu.Unlock()
		applier.mu.Lock()
		close(applier.hold)
		applier.hold = nil
		applier.mu.Unlock()
		synctest.Wait()
		wantStatus(t, svc, first[0], invalidation.Completed, start)
		wantStatus(t, svc, ids[0], invalidation.Completed, start)
		wantStatus(t, svc, ids[3], invalidation.Completed, start)
		wantStatus(t, svc, ids[1], invalidation.InProgress, time.Time{})
		wantStatus(t, svc, ids[2], invalidation.InProgress, time.Time{})
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		wantStatus(t, svc, ids[2], invalidation.Completed, start.Add(50*time.Millisecond))
		wantStatus(t, svc, ids[1], invalidation.InProgress, time.Time{}) // gone: not retried
		store.mu.Lock()
		all, one := slices.Clone(store.all), slices.Clone(store.one)
		store.mu.Unlock()
		// The second batch's done calls come together: one CompleteAll
		// (which may take the first batch's too, if its goroutine ran
		// after them).
		if len(all) == 0 || !slices.Equal(slices.Concat(all...), append(first, ids...)) || len(all[len(all)-1]) < len(ids) {
			t.Errorf("CompleteAll calls %q, want %q then %q, or them together", all, first, ids)
		}
		if want := []string{ids[2]}; !slices.Equal(one, want) {
			t.Errorf("Complete calls %q, want %q", one, want)
		}
		if _, applied := applier.get(); !slices.Equal(applied, []string{"bad"}) {
			t.Errorf("Apply called for %q, want [bad]", applied)
		}
	})
}
