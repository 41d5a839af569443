package postgres

import (
	"bytes"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

var _ eventlog.InvalidationLog = (*Store)(nil)

// InvalidationEvents returns the events Create logged, as EventsAfter
// reads them and as fleet.InvalidationEvent encodes them, whether this
// replica created the invalidation (its group handed the event over) or
// another did (read from the database); nothing for an unknown
// invalidation or a trimmed event, handed over or not.
func TestInvalidationEvents(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := openURL(t, url, WithInvalidationEvent(fleet.InvalidationEvent))
	defer a.Close()
	b := openURL(t, url, WithInvalidationEvent(fleet.InvalidationEvent))
	defer b.Close()
	create := func(s *Store, dist, ref string) invalidation.Invalidation {
		t.Helper()
		inv, _, err := s.Create(bg, invalidation.Invalidation{DistributionID: dist, Status: invalidation.InProgress,
			CreateTime: time.Now(), Batch: invalidation.Batch{CallerReference: ref, Paths: []string{"/" + ref}}},
			func(invalidation.Usage) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	x := create(a, "E1", "x")
	y := create(b, "E1", "y") // b's: a reads it from the database
	z := create(a, "E2", "z")
	check := func(invs []invalidation.Invalidation, want []bool) {
		t.Helper()
		evs := make([]eventlog.StoredEvent, len(invs))
		if err := a.InvalidationEvents(bg, invs, evs); err != nil {
			t.Fatal(err)
		}
		logged, err := a.EventsAfter(bg, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		byPos := map[uint64][]byte{}
		for _, ev := range logged {
			byPos[ev.Pos] = ev.Data
		}
		for i, inv := range invs {
			_, data := fleet.InvalidationEvent(inv)
			switch {
			case !want[i]:
				if evs[i].Pos != 0 || evs[i].Data != nil {
					t.Errorf("event of %s: %d %q, want none", inv.ID, evs[i].Pos, evs[i].Data)
				}
			case evs[i].Pos == 0 || !bytes.Equal(evs[i].Data, byPos[evs[i].Pos]) || !bytes.Equal(evs[i].Data, data):
				t.Errorf("event of %s: %d %q; logged %q, encoded %q", inv.ID, evs[i].Pos, evs[i].Data, byPos[evs[i].Pos], data)
			}
		}
	}
	unknown := invalidation.Invalidation{DistributionID: "E1", ID: "INOSUCHID00000"}
	check([]invalidation.Invalidation{y, unknown, x}, []bool{true, false, true})
	check([]invalidation.Invalidation{x, y}, []bool{true, true}) // again: x's from the database now

	// z's event, handed over and not yet taken, trimmed: none.
	w := create(a, "E2", "w")
	evs := make([]eventlog.StoredEvent, 1)
	if err := b.InvalidationEvents(bg, []invalidation.Invalidation{w}, evs); err != nil || evs[0].Pos == 0 {
		t.Fatalf("w's event: %+v, %v", evs[0], err)
	}
	if err := a.TrimEvents(bg, evs[0].Pos); err != nil {
		t.Fatal(err)
	}
	check([]invalidation.Invalidation{z, w}, []bool{false, true})
}
