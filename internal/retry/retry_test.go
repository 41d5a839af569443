package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUntilPast(t *testing.T) {
	if err := Until(context.Background(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Until(ctx, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Until on a canceled context = %v", err)
	}
}

func TestForeverRetriesUntilSuccess(t *testing.T) {
	calls, failures := 0, 0
	Forever(context.Background(), func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	}, func(error) { failures++ })
	if calls != 3 || failures != 2 {
		t.Fatalf("calls %d, failures %d; want 3, 2", calls, failures)
	}
}

func TestForeverStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	Forever(ctx, func() error {
		calls++
		cancel()
		return errors.New("failing")
	}, func(error) { t.Error("a failure after the context ended was reported") })
	if calls != 1 {
		t.Fatalf("calls %d, want 1", calls)
	}
}

// AfterFailure waits before its first attempt: ended at once, it never
// calls step; otherwise it goes on until step succeeds, reporting each
// failure it sees (not the one before it was called).
func TestAfterFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	AfterFailure(ctx, func() error { t.Fatal("step called before the first wait"); return nil }, func(error) {})

	calls, failures := 0, 0
	AfterFailure(context.Background(), func() error {
		calls++
		if calls < 2 {
			return errors.New("not yet")
		}
		return nil
	}, func(error) { failures++ })
	if calls != 2 || failures != 1 {
		t.Fatalf("calls %d, failures %d; want 2 and 1", calls, failures)
	}
}
