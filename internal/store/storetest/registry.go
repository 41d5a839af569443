package storetest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
)

// RunRegistry checks that the stores open returns keep the fleet's
// registry of edges as eventlog.Store documents: one entry per edge,
// written one at a time, so that a write to one edge leaves every other
// entry as it is. open must return a new, empty store; RunRegistry closes
// what it opens.
func RunRegistry(t *testing.T, open func(t *testing.T) EventStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s EventStore)
	}{
		{"PutAndList", testPutEdges},
		{"PutReplaces", testPutEdgeReplaces},
		{"DeleteLeavesTheRest", testDeleteEdge},
		{"DeleteUnknown", testDeleteUnknownEdge},
		{"EdgeCopies", testEdgeCopies},
		{"ConcurrentPuts", testConcurrentPutEdges},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// RunRegistryDurable checks that puts, replacements and deletes of edges,
// one by one or concurrent, survive Close and a new open of the same
// directory, and that writes after reopening add to what was read back.
func RunRegistryDurable(t *testing.T, open func(t *testing.T, dir string) EventStore) {
	t.Helper()
	t.Run("ReopenRegistry", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		putEdge(t, s, "edge-a", `{"applied":3}`)
		putEdge(t, s, "edge-b", `{"applied":5}`)
		putEdge(t, s, "edge-c", `{"applied":7}`)
		putEdge(t, s, "edge-b", `{"applied":9}`)
		deleteEdge(t, s, "edge-c")
		deleteEdge(t, s, "edge-unknown")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		wantEdges(t, s, map[string]string{"edge-a": `{"applied":3}`, "edge-b": `{"applied":9}`})
		putEdge(t, s, "edge-d", `{"applied":11}`)
		deleteEdge(t, s, "edge-a")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		t.Cleanup(func() { s.Close() })
		wantEdges(t, s, map[string]string{"edge-b": `{"applied":9}`, "edge-d": `{"applied":11}`})
	})
	t.Run("ReopenConcurrentPuts", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		want := putEdgesConcurrently(t, s, 40)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		t.Cleanup(func() { s.Close() })
		wantEdges(t, s, want)
	})
}

func putEdge(t *testing.T, s EventStore, name, data string) {
	t.Helper()
	if err := s.PutEdge(ctx, name, []byte(data)); err != nil {
		t.Fatalf("PutEdge(%s): %v", name, err)
	}
}

func deleteEdge(t *testing.T, s EventStore, name string) {
	t.Helper()
	if err := s.DeleteEdge(ctx, name); err != nil {
		t.Fatalf("DeleteEdge(%s): %v", name, err)
	}
}

// wantEdges checks that the store's registry is exactly want.
func wantEdges(t *testing.T, s EventStore, want map[string]string) {
	t.Helper()
	got, err := s.Edges(ctx)
	if err != nil {
		t.Fatalf("Edges: %v", err)
	}
	w := map[string][]byte{}
	for name, data := range want {
		w[name] = []byte(data)
	}
	if !maps.EqualFunc(got, w, slices.Equal) {
		t.Errorf("Edges = %q, want %q", got, w)
	}
}

// putEdgesConcurrently puts n edges of different names from n goroutines
// and returns what it put.
func putEdgesConcurrently(t *testing.T, s EventStore, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		want[fmt.Sprintf("edge-%02d", i)] = fmt.Sprintf(`{"applied":%d}`, i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for name, data := range want {
		wg.Go(func() {
			if err := s.PutEdge(ctx, name, []byte(data)); err != nil {
				errs <- fmt.Errorf("PutEdge(%s): %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return want
}

// Puts of different names add up: none replaces the registry.
func testPutEdges(t *testing.T, s EventStore) {
	putEdge(t, s, "a", "A")
	wantEdges(t, s, map[string]string{"a": "A"})
	putEdge(t, s, "b", "B")
	putEdge(t, s, "a#instance", "")
	wantEdges(t, s, map[string]string{"a": "A", "b": "B", "a#instance": ""})
}

func testPutEdgeReplaces(t *testing.T, s EventStore) {
	putEdge(t, s, "a", "A1")
	putEdge(t, s, "b", "B1")
	putEdge(t, s, "a", "A2")
	wantEdges(t, s, map[string]string{"a": "A2", "b": "B1"})
}

func testDeleteEdge(t *testing.T, s EventStore) {
	putEdge(t, s, "a", "A")
	putEdge(t, s, "b", "B")
	putEdge(t, s, "c", "C")
	deleteEdge(t, s, "b")
	wantEdges(t, s, map[string]string{"a": "A", "c": "C"})
	putEdge(t, s, "b", "B2")
	deleteEdge(t, s, "a")
	deleteEdge(t, s, "c")
	wantEdges(t, s, map[string]string{"b": "B2"})
	deleteEdge(t, s, "b")
	wantEdges(t, s, map[string]string{})
}

// Deleting a name the registry does not hold is no error and changes
// nothing, in an empty registry and in one that holds others.
func testDeleteUnknownEdge(t *testing.T, s EventStore) {
	deleteEdge(t, s, "never")
	wantEdges(t, s, map[string]string{})
	putEdge(t, s, "a", "A")
	deleteEdge(t, s, "never")
	deleteEdge(t, s, "A")
	wantEdges(t, s, map[string]string{"a": "A"})
	deleteEdge(t, s, "a")
	deleteEdge(t, s, "a")
	wantEdges(t, s, map[string]string{})
}

// Neither the caller's changes to the bytes it put nor to those Edges
// returned reach the store.
func testEdgeCopies(t *testing.T, s EventStore) {
	data := []byte("A1")
	if err := s.PutEdge(ctx, "a", data); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X'
	got, err := s.Edges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got["a"][0] = 'Y'
	got["z"] = []byte("Z")
	wantEdges(t, s, map[string]string{"a": "A1"})
}

// Concurrent puts of different names all land; concurrent deletes of
// half of them leave exactly the other half.
func testConcurrentPutEdges(t *testing.T, s EventStore) {
	want := putEdgesConcurrently(t, s, 40)
	wantEdges(t, s, want)
	var wg sync.WaitGroup
	errs := make(chan error, len(want))
	for i := 0; i < 40; i += 2 {
		name := fmt.Sprintf("edge-%02d", i)
		delete(want, name)
		wg.Go(func() {
			if err := s.DeleteEdge(ctx, name); err != nil {
				errs <- fmt.Errorf("DeleteEdge(%s): %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantEdges(t, s, want)
}
