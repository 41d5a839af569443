// Package testutil holds small helpers shared by the tests of several
// packages. It is imported by tests only. Tests wait with Eventually or
// Reached on the condition they need, never with a sleep that orders
// events, and assert the order of events, never a wall-clock duration.
package testutil

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use: a log destination
// that the code under test writes to from its goroutines while the test
// reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
