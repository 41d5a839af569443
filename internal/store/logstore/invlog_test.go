package logstore

import (
	"bytes"
	"testing"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

var _ eventlog.InvalidationLog = (*Store)(nil)

// InvalidationEvents returns the events Create logged, as EventsAfter
// reads them and as fleet.InvalidationEvent encodes them, and nothing for
// an invalidation without one: unknown, its distribution deleted, its
// event trimmed, or logged by a store without WithInvalidationEvent.
func TestInvalidationEvents(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	plain := create(t, s, newInv("E0", "plain", "/plain")) // no event logged
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, WithInvalidationEvent(fleet.InvalidationEvent))
	defer s.Close()
	a := create(t, s, newInv("E1", "a", "/a"))
	b := create(t, s, newInv("E1", "b", "/b&c", "/d*"))
	c := create(t, s, newInv("E2", "c", "/c"))
	d := create(t, s, newInv("E3", "d", "/d"))
	old := create(t, s, newInv("E1", "old", "/old"))
	invs := []invalidation.Invalidation{b, plain, a, {DistributionID: "E1", ID: "INOSUCHID00000"}, c, d}
	evs := make([]eventlog.StoredEvent, len(invs))
	if err := s.InvalidationEvents(bg, invs, evs); err != nil {
		t.Fatal(err)
	}
	logged, err := s.EventsAfter(bg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	byPos := map[uint64][]byte{}
	for _, ev := range logged {
		byPos[ev.Pos] = ev.Data
	}
	for i, inv := range invs {
		_, want := fleet.InvalidationEvent(inv)
		switch {
		case inv.ID == plain.ID || inv.ID == "INOSUCHID00000":
			if evs[i].Pos != 0 || evs[i].Data != nil {
				t.Errorf("event of %s: %d %q, want none", inv.ID, evs[i].Pos, evs[i].Data)
			}
		case evs[i].Pos == 0 || !bytes.Equal(evs[i].Data, byPos[evs[i].Pos]) || !bytes.Equal(evs[i].Data, want):
			t.Errorf("event of %s: %d %q; logged %q, encoded %q", inv.ID, evs[i].Pos, evs[i].Data, byPos[evs[i].Pos], want)
		}
	}

	// Gone with its distribution, or trimmed: none (the hub appends, and
	// AppendEvent finds the key).
	if err := s.CreateDistribution(bg, distribution.Distribution{ID: "E2", CallerReference: "e2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDistribution(bg, "E2", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.TrimEvents(bg, evs[5].Pos); err != nil { // d's stays
		t.Fatal(err)
	}
	invs = []invalidation.Invalidation{a, c, d, old}
	evs = make([]eventlog.StoredEvent, len(invs))
	if err := s.InvalidationEvents(bg, invs, evs); err != nil {
		t.Fatal(err)
	}
	if evs[0].Pos != 0 || evs[1].Pos != 0 || evs[2].Pos == 0 || evs[3].Pos == 0 {
		t.Errorf("after deleting E2 and trimming below d's event: %+v, want only d's and old's", evs)
	}
}
