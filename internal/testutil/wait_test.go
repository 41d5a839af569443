package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	Eventually(t, 10*time.Second, func() bool { return n.Load() == 3 }, "three increments")
}

// fakeT records a Fatalf instead of ending the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f) // stands in for runtime.Goexit
}

func TestEventuallyFailsAtTheDeadline(t *testing.T) {
	f := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }()
		Eventually(f, 20*time.Millisecond, func() bool { return false }, "never")
	}()
	if f.failed == "" {
		t.Fatal("Eventually returned for a condition that never held")
	}
}

func TestReached(t *testing.T) {
	r := NewReached()
	select {
	case <-r.Done():
		t.Fatal("Done before Mark")
	default:
	}
	go r.Mark()
	r.Wait(t, 10*time.Second, "the mark")
	r.Mark() // a second Mark is harmless
	f := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }()
		NewReached().Wait(f, 20*time.Millisecond, "never")
	}()
	if f.failed == "" {
		t.Fatal("Wait returned for a point never reached")
	}
}
