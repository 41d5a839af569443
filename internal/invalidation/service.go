package invalidation

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/openfront/openfront/internal/retry"
)

// Distributions tells the service which distribution Ids exist.
type Distributions interface {
	Exists(id string) bool
	// Acquire keeps the distribution from being deleted until release is
	// called, so that no invalidation is written for a deleted one.
	Acquire(id string) (release func(), ok bool)
}

// Applier applies an invalidation's work (purging caches) and returns when
// it is done everywhere it must be; only then is the invalidation
// Completed. Apply is retried with backoff until it succeeds or ctx ends.
type Applier interface {
	Apply(ctx context.Context, inv Invalidation) error
}

// DelayApplier stands in for edges that are not there: an invalidation's
// work takes Delay counted from its CreateTime.
type DelayApplier struct {
	Delay time.Duration
	Now   func() time.Time // time.Now when nil
}

// Apply waits until inv.CreateTime + Delay.
func (d DelayApplier) Apply(ctx context.Context, inv Invalidation) error {
	return retry.Until(ctx, d.due(inv))
}

// due is when inv's wait ends, on time.Now's clock.
func (d DelayApplier) due(inv Invalidation) time.Time {
	due := inv.CreateTime.Add(d.Delay)
	if d.Now != nil {
		// Count the wait on d.Now's clock.
		due = time.Now().Add(due.Sub(d.Now()))
	}
	return due
}

// ApplyAll implements BatchApplier: each invalidation is done at its own
// CreateTime + Delay. Those already due are done before ApplyAll returns;
// each of the others waits in a goroutine of its own, so that none waits
// behind one due later.
func (d DelayApplier) ApplyAll(ctx context.Context, invs []Invalidation, done func(i int, err error)) {
	now := time.Now()
	for i := range invs {
		due := d.due(invs[i])
		if !due.After(now) {
			done(i, nil)
			continue
		}
		go func() { done(i, retry.Until(ctx, due)) }()
	}
}

// BatchApplier is an Applier that also applies many invalidations
// together, for less work per invalidation than one Apply each (one log
// append and one wait for the edges for all of them). The service uses it
// to complete in batches what was created meanwhile.
type BatchApplier interface {
	Applier
	// ApplyAll applies invs and calls done(i, err) exactly once for each
	// invs[i]: with nil when invs[i] is applied everywhere it must be
	// (it is then recorded Completed), or with why it is not (it is then
	// retried on its own with Apply). done may be called from any
	// goroutine, and after ApplyAll returns (an invalidation that must
	// wait longer than the others); ApplyAll must not keep invs past the
	// last call. Once ctx ends, pending calls come promptly, with an error.
	ApplyAll(ctx context.Context, invs []Invalidation, done func(i int, err error))
}

// Service applies CloudFront's invalidation rules on top of a Store.
type Service struct {
	store   Store
	dists   Distributions
	limits  Limits
	applier Applier
	now     func() time.Time
	log     *slog.Logger
	done    func(inv Invalidation, at time.Time) // Config.Completed; nil: none

	ctx    context.Context // ends when the service closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // completion work: the worker, invalidations in flight, retries

	// With a BatchApplier, created invalidations queue for one worker,
	// which applies everything queued (up to maxBatch) together.
	batch   BatchApplier  // nil: one goroutine per invalidation
	wake    chan struct{} // capacity 1: something was queued
	qmu     sync.Mutex
	queue   []Invalidation // guarded by qmu
	working bool           // the worker was started; guarded by qmu

	// Invalidations the batch applier is done with, to record Completed
	// together: the first one queued starts a goroutine that takes all
	// queued by the time it runs (the done calls of one batch come
	// together).
	cmu        sync.Mutex
	completing []Invalidation // guarded by cmu

	// adopted holds the invalidations Adopt is completing (by
	// distribution and Id), so that the next Adopt does not start them
	// again. Guarded by qmu.
	adopted map[[2]string]bool
}

// maxBatch bounds how many invalidations the worker applies together.
const maxBatch = 256

// Config is what a Service is built from.
type Config struct {
	Store         Store
	Distributions Distributions
	Limits        Limits           // DefaultLimits when zero
	Applier       Applier          // DelayApplier{} when nil
	Now           func() time.Time // time.Now when nil
	Logger        *slog.Logger     // slog.Default() when nil
	// Completed, when not nil, is called once inv is recorded Completed
	// at at (with its CreateTime: the metrics' completion time), from
	// the goroutine that recorded it; it must not block. An
	// invalidation completed again after a restart (Resume) is reported
	// again.
	Completed func(inv Invalidation, at time.Time)
}

// NewService builds a Service. Call Resume once to go on with invalidations
// left InProgress by an earlier run, and Close when done.
func NewService(c Config) *Service {
	s := &Service{store: c.Store, dists: c.Distributions, limits: c.Limits, applier: c.Applier, now: c.Now, log: c.Logger, done: c.Completed}
	if s.limits == (Limits{}) {
		s.limits = DefaultLimits
	}
	if s.applier == nil {
		s.applier = DelayApplier{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.batch, _ = s.applier.(BatchApplier)
	s.wake = make(chan struct{}, 1)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Limits returns the limits the service enforces.
func (s *Service) Limits() Limits { return s.limits }

// Create accepts a batch for a distribution. It returns the invalidation and
// whether it is new; a replay of an earlier batch (same CallerReference, same
// paths) returns the earlier invalidation. A new invalidation is durable when
// Create returns.
func (s *Service) Create(ctx context.Context, distributionID string, b Batch) (Invalidation, bool, error) {
	release, ok := s.dists.Acquire(distributionID)
	if !ok {
		return Invalidation{}, false, ErrNoSuchDistribution
	}
	defer release()
	if err := s.limits.Validate(b); err != nil {
		return Invalidation{}, false, err
	}
	inv := Invalidation{
		DistributionID: distributionID,
		// ID: the store gives one (durable stores derive it from their
		// sequence, so it needs no index).
		Status: InProgress,
		// CloudFront reports milliseconds; keep what a replay will return.
		CreateTime: s.now().UTC().Truncate(time.Millisecond),
		Batch:      b,
	}
	add := b.Usage()
	got, created, err := s.store.Create(ctx, inv, func(inProgress Usage) error {
		return s.limits.Admit(inProgress, add)
	})
	if err != nil {
		return Invalidation{}, false, err
	}
	if !created {
		if !got.Batch.SamePaths(b) {
			return Invalidation{}, false, newError(CodeInvalidationBatchAlreadyExists, msgBatchExists)
		}
		return got, false, nil
	}
	s.complete(got)
	return got, true, nil
}

// Get returns one invalidation of a distribution.
func (s *Service) Get(ctx context.Context, distributionID, id string) (Invalidation, error) {
	if !s.dists.Exists(distributionID) {
		return Invalidation{}, ErrNoSuchDistribution
	}
	inv, err := s.store.Get(ctx, distributionID, id)
	if errors.Is(err, ErrNotFound) {
		return Invalidation{}, ErrNoSuchInvalidation
	}
	return inv, err
}

// Page is one page of a distribution's invalidations, newest first.
type Page struct {
	Items []Invalidation
	// NextMarker is the Id of the last item when more follow, else "".
	NextMarker string
}

// List returns up to maxItems invalidations after marker, newest first.
func (s *Service) List(ctx context.Context, distributionID, marker string, maxItems int) (Page, error) {
	if !s.dists.Exists(distributionID) {
		return Page{}, ErrNoSuchDistribution
	}
	items, more, err := s.store.List(ctx, distributionID, marker, maxItems)
	if errors.Is(err, ErrMarkerNotFound) {
		return Page{}, newError(CodeInvalidArgument, "The marker %q does not name an invalidation of this distribution.", marker)
	}
	if err != nil {
		return Page{}, err
	}
	p := Page{Items: items}
	if more && len(items) > 0 {
		p.NextMarker = items[len(items)-1].ID
	}
	return p, nil
}

// InProgressBatches counts a distribution's InProgress invalidations.
func (s *Service) InProgressBatches(ctx context.Context, distributionID string) (int, error) {
	return s.store.CountInProgress(ctx, distributionID)
}

// Resume goes on with every invalidation an earlier run left InProgress.
func (s *Service) Resume(ctx context.Context) error {
	pending, err := s.store.InProgress(ctx)
	if err != nil {
		return err
	}
	for _, inv := range pending {
		s.complete(inv)
	}
	if len(pending) > 0 {
		s.log.Info("resuming in-progress invalidations", "count", len(pending))
	}
	return nil
}

// Adopt goes on with the invalidations left InProgress for longer than
// age, whichever control-plane replica created them: with replicas
// sharing one store, one that dies leaves its invalidations InProgress,
// and a surviving replica completes them once every edge applied them.
// Applying is idempotent (the event is logged once, under its key) and
// so is recording Completed, so an invalidation its own replica is still
// completing is only waited for twice. It returns how many it took on;
// each is completed in the background, as Resume's are (and reported to
// Config.Completed again).
func (s *Service) Adopt(ctx context.Context, age time.Duration) (int, error) {
	pending, err := s.store.InProgress(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	n := 0
	for _, inv := range pending {
		if now.Sub(inv.CreateTime) < age {
			continue
		}
		key := [2]string{inv.DistributionID, inv.ID}
		s.qmu.Lock()
		if s.ctx.Err() != nil {
			s.qmu.Unlock()
			return n, nil // closed
		}
		if s.adopted[key] {
			s.qmu.Unlock()
			continue
		}
		if s.adopted == nil {
			s.adopted = map[[2]string]bool{}
		}
		s.adopted[key] = true
		s.wg.Add(1)
		s.qmu.Unlock()
		n++
		go func() {
			defer s.wg.Done()
			retry.Forever(s.ctx, s.completeStep(inv), s.logRetry(inv))
			s.qmu.Lock()
			delete(s.adopted, key)
			s.qmu.Unlock()
		}()
	}
	if n > 0 {
		s.log.Info("completing invalidations left in progress (by this or another control-plane replica)", "count", n, "older_than", age)
	}
	return n, nil
}

// AdoptEvery runs Adopt(ctx, age) every interval until ctx ends or the
// service closes: what a control-plane replica sharing its store with
// others runs, so that the invalidations of a replica that died are
// completed.
func (s *Service) AdoptEvery(ctx context.Context, interval, age time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Adopt(ctx, age); err != nil && ctx.Err() == nil {
			s.log.Warn("looking for invalidations left in progress", "err", err)
		}
	}
}

// complete applies inv in the background and then records it Completed.
func (s *Service) complete(inv Invalidation) {
	if s.batch == nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			retry.Forever(s.ctx, s.completeStep(inv), s.logRetry(inv))
		}()
		return
	}
	s.qmu.Lock()
	if s.ctx.Err() != nil {
		s.qmu.Unlock()
		return // closed: it stays InProgress, for the next run
	}
	s.queue = append(s.queue, inv)
	if !s.working {
		s.working = true
		s.wg.Add(1)
		go s.work()
	}
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // the worker is woken already
	}
}

// work applies the queued invalidations in batches until the service
// closes: everything queued since the last batch was handed over, so the
// busier the service, the larger the batches. ApplyAll need not wait for a
// batch to be applied (the hub's does not: a slow edge must not hold later
// invalidations back from the others); done reports each item.
func (s *Service) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		// Woken by the first of the creates a store write answered
		// together: let the others queue too, for one batch rather than
		// several.
		runtime.Gosched()
		for s.ctx.Err() == nil {
			s.qmu.Lock()
			n := min(len(s.queue), maxBatch)
			// A fresh slice for each batch: done calls may come after
			// ApplyAll returns.
			batch := slices.Clone(s.queue[:n])
			s.queue = slices.Delete(s.queue, 0, n)
			s.qmu.Unlock()
			if n == 0 {
				break
			}
			s.wg.Add(n)
			s.batch.ApplyAll(s.ctx, batch, func(i int, err error) { s.finish(batch[i], err) })
		}
	}
}

// finish records inv Completed once the batch applier is done with it, or
// retries it on its own when applying or recording it failed.
func (s *Service) finish(inv Invalidation, err error) {
	if err != nil {
		s.failed(inv, err)
		return
	}
	s.cmu.Lock()
	s.completing = append(s.completing, inv)
	first := len(s.completing) == 1
	s.cmu.Unlock()
	if first {
		go s.completeQueued()
	}
}

// completeQueued records Completed every invalidation finish queued, with
// one CompleteAll: a durable store writes them together, and this
// goroutine is one per batch rather than one per invalidation. Calls do
// not wait for each other: a batch finished while the last one's write is
// under way goes into the same group commit if it can.
func (s *Service) completeQueued() {
	s.cmu.Lock()
	invs := s.completing
	s.completing = nil
	s.cmu.Unlock()
	items := make([]CompleteItem, len(invs))
	at := s.now()
	for i, inv := range invs {
		items[i] = CompleteItem{DistributionID: inv.DistributionID, ID: inv.ID, At: at}
	}
	for i, err := range s.store.CompleteAll(s.ctx, items) {
		if err != nil {
			s.failed(invs[i], err) // retried alone; gone (ErrNotFound) is done
			continue
		}
		if s.done != nil {
			s.done(invs[i], at)
		}
		s.wg.Done()
	}
}

// failed retries inv on its own after err, unless err says it is gone or
// the service is closing.
func (s *Service) failed(inv Invalidation, err error) {
	if errors.Is(err, ErrNotFound) || s.ctx.Err() != nil {
		s.wg.Done()
		return
	}
	s.logRetry(inv)(err)
	go func() {
		defer s.wg.Done()
		retry.AfterFailure(s.ctx, s.completeStep(inv), s.logRetry(inv))
	}()
}

// completeStep applies inv and records it Completed; an invalidation gone
// with its distribution counts as done.
func (s *Service) completeStep(inv Invalidation) func() error {
	return func() error {
		err := s.applier.Apply(s.ctx, inv)
		if err == nil {
			at := s.now()
			if err = s.store.Complete(s.ctx, inv.DistributionID, inv.ID, at); err == nil && s.done != nil {
				s.done(inv, at)
			}
		}
		if errors.Is(err, ErrNotFound) {
			return nil // its distribution was deleted: nothing left to complete
		}
		return err
	}
}

// logRetry reports a failed attempt to complete inv.
func (s *Service) logRetry(inv Invalidation) func(error) {
	return func(err error) {
		s.log.Warn("completing invalidation failed; retrying", "distribution", inv.DistributionID, "id", inv.ID, "err", err)
	}
}

// Close stops completion work; invalidations still InProgress stay so in
// the store and are resumed by the next run.
func (s *Service) Close() {
	s.qmu.Lock() // complete counts its work before this, or sees it closed
	s.cancel()
	s.qmu.Unlock()
	s.wg.Wait()
}
