// Package retry holds the waiting that the services' background work
// shares: waiting out a delay that stands in for absent edges, and retrying
// a step with backoff until it succeeds or the service shuts down. It
// depends on nothing else in the module, so both internal/invalidation and
// internal/distribution use it without depending on each other.
package retry

import (
	"context"
	"time"
)

// Until waits until t, or until ctx ends (then it returns ctx's error).
// A t in the past returns at once.
func Until(ctx context.Context, t time.Time) error {
	wait := time.Until(t)
	if wait <= 0 {
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backoff bounds the waits between attempts of Forever.
const (
	FirstBackoff = 50 * time.Millisecond
	MaxBackoff   = 5 * time.Second
)

// Forever calls step until it returns nil or ctx ends, waiting between
// attempts from FirstBackoff, doubling up to MaxBackoff. Each failure is
// passed to failed (e.g. to log it) before the wait.
func Forever(ctx context.Context, step func() error, failed func(error)) {
	err := step()
	if err == nil || ctx.Err() != nil {
		return
	}
	failed(err)
	AfterFailure(ctx, step, failed)
}

// AfterFailure is Forever for work whose first attempt has failed already
// (and been reported) elsewhere: it waits FirstBackoff, then goes on as
// Forever does after a first failure.
func AfterFailure(ctx context.Context, step func() error, failed func(error)) {
	backoff := FirstBackoff
	for {
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
		err := step()
		if err == nil || ctx.Err() != nil {
			return
		}
		failed(err)
		backoff = min(2*backoff, MaxBackoff)
	}
}
