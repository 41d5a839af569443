package testutil

import (
	"sync"
	"testing"
	"time"
)

// pollPause is how long Eventually waits between two checks of its
// condition: short enough not to slow a test down, long enough not to spin
// a core the code under test needs.
const pollPause = 5 * time.Millisecond

// Eventually calls cond until it returns true and fails the test (with
// t.Fatalf, naming what) if it has not by the end of within. It is how a
// test waits for something another goroutine or process does: on the
// condition itself, never on a sleep that guesses how long it takes.
// within is a bound against a hang, not a claim about speed: pick it
// generously (seconds), as a slow, loaded machine must still pass.
//
// cond runs on the test's goroutine, so it may call t.Fatal itself.
func Eventually(t testing.TB, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(pollPause)
	}
}

// Reached is a point the code under test (usually a handler a test
// installs) passes and the test waits for: the channel-based alternative to
// Eventually when the test owns the code that gets there. The zero value is
// not usable; make one with NewReached. Mark may be called any number of
// times from any goroutine; only the first counts.
type Reached struct {
	ch   chan struct{}
	once sync.Once
}

// NewReached returns a Reached not yet marked.
func NewReached() *Reached { return &Reached{ch: make(chan struct{})} }

// Mark records that the point was reached and releases every Wait.
func (r *Reached) Mark() { r.once.Do(func() { close(r.ch) }) }

// Done returns a channel closed once Mark was called, for a select.
func (r *Reached) Done() <-chan struct{} { return r.ch }

// Wait blocks until Mark was called and fails the test (t.Fatalf, naming
// what) if it was not within the bound against a hang.
func (r *Reached) Wait(t testing.TB, within time.Duration, what string) {
	t.Helper()
	select {
	case <-r.ch:
	case <-time.After(within):
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}
