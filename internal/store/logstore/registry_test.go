package logstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
)

// appendLegacyEdges is the edges record of logs written before per-edge
// registry writes: the whole registry, replacing the one before it.
func appendLegacyEdges(buf []byte, edges map[string][]byte) []byte {
	buf = append(buf, recEdges)
	buf = binary.AppendUvarint(buf, uint64(len(edges)))
	for _, name := range slices.Sorted(maps.Keys(edges)) {
		buf = appendString(buf, name)
		buf = appendBytes(buf, edges[name])
	}
	return buf
}

// writeRecords commits recs as a write of their own and applies them to
// the state in memory as replay does: what an older openfront wrote.
func writeRecords(t *testing.T, s *Store, recs []byte) {
	t.Helper()
	s.mu.Lock()
	if err := s.replay(recs); err != nil {
		t.Fatal(err)
	}
	b := s.stamp()
	b.buf = append(b.buf, recs...)
	s.mu.Unlock()
	if err := b.wait(); err != nil {
		t.Fatal(err)
	}
}

// TestLegacyEdgesRecord: a data directory whose log holds whole-registry
// edges records (written before per-edge writes) opens with each one
// replacing the registry and the per-edge records after it applied on
// top; compaction writes the registry as per-edge records, which read
// back the same.
func TestLegacyEdgesRecord(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	writeRecords(t, s, appendLegacyEdges(nil, map[string][]byte{"a": []byte("A1"), "b": []byte("B1")}))
	if err := s.PutEdge(bg, "c", []byte("C1")); err != nil {
		t.Fatal(err)
	}
	// Replaces all: c (put before it) and b are gone.
	writeRecords(t, s, appendLegacyEdges(nil, map[string][]byte{"a": []byte("A2"), "d": []byte("D1")}))
	for i := range 50 { // superseded entries, for compaction to drop
		if err := s.PutEdge(bg, "e", fmt.Appendf(nil, "E%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteEdge(bg, "d"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := map[string][]byte{"a": []byte("A2"), "e": []byte("E49")}
	check := func(s *Store) {
		t.Helper()
		got, err := s.Edges(bg)
		if err != nil || !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("Edges = %q, %v; want %q", got, err, want)
		}
	}

	s = open(t, dir, func(s *Store) { s.compactMin = 1 }) // compacts at Open
	check(s)
	s.Close()
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, appendRegistry(nil, want)) {
		t.Errorf("the compacted log does not hold the registry as per-edge records")
	}
	if bytes.Contains(data, appendLegacyEdges(nil, want)) || bytes.Contains(data, []byte("A1")) || bytes.Contains(data, []byte("E48")) {
		t.Errorf("the compacted log still holds a whole-registry record or superseded entries")
	}
	s = open(t, dir)
	defer s.Close()
	check(s)
}
