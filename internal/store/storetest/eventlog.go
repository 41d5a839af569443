package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/openfront/openfront/internal/eventlog"
)

// RunEventLog checks that the stores open returns keep the fleet's event
// log as eventlog.Store documents (RunRegistry checks the registry). open must return a new,
// empty store; RunEventLog closes what it opens.
func RunEventLog(t *testing.T, open func(t *testing.T) EventStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s EventStore)
	}{
		{"EmptyLog", testEmptyLog},
		{"AppendInOrder", testAppendInOrder},
		{"AppendIdempotent", testAppendIdempotent},
		{"EventsAfterLimit", testEventsAfterLimit},
		{"Trim", testTrim},
		{"TrimAll", testTrimAll},
		{"ConcurrentAppends", testConcurrentAppends},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// EventStore is a eventlog.Store that can be closed.
type EventStore interface {
	eventlog.Store
	Close() error
}

// RunEventLogDurable checks that appends and trims survive Close and a
// new open of the same directory, and that positions are not reused after
// it.
func RunEventLogDurable(t *testing.T, open func(t *testing.T, dir string) EventStore) {
	t.Helper()
	t.Run("ReopenEventLog", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		pos := appendN(t, s, "k", 5)
		if err := s.TrimEvents(ctx, pos[2]); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		t.Cleanup(func() { s.Close() })
		wantBounds(t, s, pos[2], pos[4])
		wantEvents(t, s, 0, "k", pos, 2, 5)
		if p, err := s.AppendEvent(ctx, "k-4", []byte("again")); err != nil || p != pos[4] {
			t.Errorf("append of a logged key after reopening = %d, %v; want its position %d", p, err, pos[4])
		}
		next, err := s.AppendEvent(ctx, "new", []byte("new"))
		if err != nil || next <= pos[4] {
			t.Errorf("append after reopening = %d, %v; want a position above %d", next, err, pos[4])
		}
	})
}

// appendN appends n events with keys prefix-0 … prefix-(n-1) and data
// equal to their keys, and returns their positions.
func appendN(t *testing.T, s eventlog.Store, prefix string, n int) []uint64 {
	t.Helper()
	pos := make([]uint64, n)
	for i := range n {
		key := fmt.Sprintf("%s-%d", prefix, i)
		p, err := s.AppendEvent(ctx, key, []byte(key))
		if err != nil {
			t.Fatalf("AppendEvent(%s): %v", key, err)
		}
		pos[i] = p
	}
	return pos
}

func wantBounds(t *testing.T, s eventlog.Store, first, last uint64) {
	t.Helper()
	f, l, err := s.LogBounds(ctx)
	if err != nil || f != first || l != last {
		t.Errorf("LogBounds = %d, %d, %v; want %d, %d", f, l, err, first, last)
	}
}

// wantEvents checks that EventsAfter(after) returns the events of appendN's
// indexes from..to-1, in order.
func wantEvents(t *testing.T, s eventlog.Store, after uint64, prefix string, pos []uint64, from, to int) {
	t.Helper()
	evs, err := s.EventsAfter(ctx, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != to-from {
		t.Fatalf("EventsAfter(%d) returned %d events, want %d", after, len(evs), to-from)
	}
	for i, ev := range evs {
		want := fmt.Sprintf("%s-%d", prefix, from+i)
		if ev.Pos != pos[from+i] || string(ev.Data) != want {
			t.Errorf("event %d = %d %q, want %d %q", i, ev.Pos, ev.Data, pos[from+i], want)
		}
	}
}

// An empty log has no events, and its first retained position is one
// above its last: LogBounds is (last+1, last).
func testEmptyLog(t *testing.T, s EventStore) {
	first, last, err := s.LogBounds(ctx)
	if err != nil || first != last+1 {
		t.Errorf("LogBounds of an empty log = %d, %d, %v; want first = last+1", first, last, err)
	}
	if evs, err := s.EventsAfter(ctx, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("EventsAfter(0) of an empty log = %v, %v", evs, err)
	}
	if edges, err := s.Edges(ctx); err != nil || len(edges) != 0 {
		t.Errorf("Edges of a new store = %v, %v", edges, err)
	}
}

func testAppendInOrder(t *testing.T, s EventStore) {
	pos := appendN(t, s, "e", 5)
	for i := 1; i < len(pos); i++ {
		if pos[i] <= pos[i-1] {
			t.Fatalf("positions do not increase: %v", pos)
		}
	}
	wantBounds(t, s, pos[0], pos[4])
	wantEvents(t, s, 0, "e", pos, 0, 5)
	wantEvents(t, s, pos[1], "e", pos, 2, 5)
	wantEvents(t, s, pos[4], "e", pos, 5, 5)
}

func testAppendIdempotent(t *testing.T, s EventStore) {
	pos := appendN(t, s, "i", 3)
	p, err := s.AppendEvent(ctx, "i-1", []byte("other data"))
	if err != nil || p != pos[1] {
		t.Errorf("append of a logged key = %d, %v; want its position %d", p, err, pos[1])
	}
	wantBounds(t, s, pos[0], pos[2])
	wantEvents(t, s, 0, "i", pos, 0, 3)
}

func testEventsAfterLimit(t *testing.T, s EventStore) {
	pos := appendN(t, s, "l", 7)
	evs, err := s.EventsAfter(ctx, pos[1], 3)
	if err != nil || len(evs) != 3 || evs[0].Pos != pos[2] || evs[2].Pos != pos[4] {
		t.Errorf("EventsAfter(%d, 3) = %v, %v; want positions %v", pos[1], evs, err, pos[2:5])
	}
}

// Trimming drops events below a position; their keys stay logged, so a
// trimmed event is never appended again.
func testTrim(t *testing.T, s EventStore) {
	pos := appendN(t, s, "t", 6)
	if err := s.TrimEvents(ctx, pos[3]); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, pos[3], pos[5])
	wantEvents(t, s, 0, "t", pos, 3, 6)
	if p, err := s.AppendEvent(ctx, "t-0", []byte("t-0")); err != nil || p != pos[0] {
		t.Errorf("append of a trimmed key = %d, %v; want its old position %d", p, err, pos[0])
	}
	wantBounds(t, s, pos[3], pos[5])
	// Trimming below the first retained position changes nothing.
	if err := s.TrimEvents(ctx, pos[1]); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, pos[3], pos[5])
}

func testTrimAll(t *testing.T, s EventStore) {
	pos := appendN(t, s, "a", 3)
	if err := s.TrimEvents(ctx, pos[2]+1); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, pos[2]+1, pos[2])
	next, err := s.AppendEvent(ctx, "after", []byte("after"))
	if err != nil || next <= pos[2] {
		t.Errorf("append after trimming everything = %d, %v; want a position above %d", next, err, pos[2])
	}
}

func testConcurrentAppends(t *testing.T, s EventStore) {
	const n = 64
	var wg sync.WaitGroup
	pos := make([]uint64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every key twice: each pair must get one position.
			key := fmt.Sprintf("c-%d", i/2)
			pos[i], errs[i] = s.AppendEvent(ctx, key, []byte(key))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AppendEvent %d: %v", i, err)
		}
	}
	byKey := map[string]uint64{}
	for i, p := range pos {
		key := fmt.Sprintf("c-%d", i/2)
		if q, ok := byKey[key]; ok && q != p {
			t.Errorf("key %s appended at %d and %d", key, q, p)
		}
		byKey[key] = p
	}
	evs, err := s.EventsAfter(ctx, 0, 1000)
	if err != nil || len(evs) != n/2 {
		t.Fatalf("EventsAfter(0) = %d events, %v; want %d", len(evs), err, n/2)
	}
	for i, ev := range evs {
		if i > 0 && ev.Pos <= evs[i-1].Pos {
			t.Errorf("events out of order at %d: %d after %d", i, ev.Pos, evs[i-1].Pos)
		}
		if byKey[string(ev.Data)] != ev.Pos {
			t.Errorf("event %q at %d, appended at %d", ev.Data, ev.Pos, byKey[string(ev.Data)])
		}
	}
}
