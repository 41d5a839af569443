package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

var bg = context.Background()

func allowAll(invalidation.Usage) error { return nil }

// writeOldLayout writes a data file as versions before the sequence-derived
// Ids wrote it: per-distribution sequence numbers, random Ids in dist/*/id,
// the status in the JSON record, and "active" keyed by distribution and Id.
func writeOldLayout(t *testing.T, dir string, invs []invalidation.Invalidation) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "openfront.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range []string{"dist", "active", "distributions", "events", "eventkeys", "edges"} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		for _, inv := range invs {
			d, err := tx.Bucket([]byte("dist")).CreateBucketIfNotExists([]byte(inv.DistributionID))
			if err != nil {
				return err
			}
			for _, sub := range []string{"inv", "id", "ref"} {
				if _, err := d.CreateBucketIfNotExists([]byte(sub)); err != nil {
					return err
				}
			}
			n, _ := d.Bucket([]byte("inv")).NextSequence()
			data, _ := json.Marshal(inv)
			seq := binary.BigEndian.AppendUint64(nil, n)
			if err := d.Bucket([]byte("inv")).Put(seq, data); err != nil {
				return err
			}
			if err := d.Bucket([]byte("id")).Put([]byte(inv.ID), seq); err != nil {
				return err
			}
			if err := d.Bucket([]byte("ref")).Put(refKey(inv.Batch.CallerReference), seq); err != nil {
				return err
			}
			if inv.Status == invalidation.InProgress {
				if err := tx.Bucket([]byte("active")).Put(append(append([]byte(inv.DistributionID), 0), inv.ID...), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenUpgradesOlderFile: a file of the older layout opens; its
// invalidations keep their Ids, status, order and replays; in-progress
// ones still count and complete; new ones follow them in List.
func TestOpenUpgradesOlderFile(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(dist, id, ref string, st invalidation.Status, i int, paths ...string) invalidation.Invalidation {
		inv := invalidation.Invalidation{DistributionID: dist, ID: id, Status: st, CreateTime: t0.Add(time.Duration(i) * time.Second),
			Batch: invalidation.Batch{CallerReference: ref, Paths: paths}}
		if st == invalidation.Completed {
			inv.CompleteTime = inv.CreateTime.Add(time.Minute)
		}
		return inv
	}
	old := []invalidation.Invalidation{
		mk("E1", "IOLDAAAAAAAAA1", "r1", invalidation.Completed, 1, "/a"),
		mk("E1", "IOLDAAAAAAAAA2", "r2", invalidation.InProgress, 2, "/b", "/c*"),
		mk("E2", "IOLDAAAAAAAAA3", "r1", invalidation.InProgress, 3, "/d"),
		mk("E1", "IOLDAAAAAAAAA4", "r3", invalidation.InProgress, 4, "/e"),
	}
	writeOldLayout(t, dir, old)

	s := open(t, dir)
	for _, want := range old {
		got, err := s.Get(bg, want.DistributionID, want.ID)
		if err != nil || got.Status != want.Status || !got.CompleteTime.Equal(want.CompleteTime) || got.Batch.CallerReference != want.Batch.CallerReference {
			t.Fatalf("Get(%s) after upgrade = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	if u := s.usage("E1", nil); u != (invalidation.Usage{FilePaths: 2, WildcardPaths: 1}) {
		t.Errorf("E1 usage after upgrade = %+v", u)
	}
	if n, _ := s.CountInProgress(bg, "E1"); n != 2 {
		t.Errorf("CountInProgress(E1) = %d, want 2", n)
	}
	got, created, err := s.Create(bg, invalidation.Invalidation{DistributionID: "E1", Status: invalidation.InProgress, CreateTime: t0.Add(5 * time.Second),
		Batch: invalidation.Batch{CallerReference: "r2", Paths: []string{"/b", "/c*"}}}, allowAll)
	if err != nil || created || got.ID != "IOLDAAAAAAAAA2" {
		t.Fatalf("replay of an old invalidation = %s, created %v, %v", got.ID, created, err)
	}
	fresh, created, err := s.Create(bg, invalidation.Invalidation{DistributionID: "E1", Status: invalidation.InProgress, CreateTime: t0.Add(6 * time.Second),
		Batch: invalidation.Batch{CallerReference: "r9", Paths: []string{"/f"}}}, allowAll)
	if err != nil || !created {
		t.Fatalf("Create after upgrade: %v", err)
	}
	if err := s.Complete(bg, "E1", "IOLDAAAAAAAAA2", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if u := s.usage("E1", nil); u != (invalidation.Usage{FilePaths: 2}) {
		t.Errorf("E1 usage after completing = %+v", u)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	defer s.Close()
	page, _, err := s.List(bg, "E1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, inv := range page {
		ids = append(ids, inv.ID)
	}
	if want := []string{fresh.ID, "IOLDAAAAAAAAA4", "IOLDAAAAAAAAA2", "IOLDAAAAAAAAA1"}; !slices.Equal(ids, want) {
		t.Errorf("List(E1) after upgrade = %v, want %v", ids, want)
	}
	if page[2].Status != invalidation.Completed || !page[2].CompleteTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("completed old invalidation lists as %s %v", page[2].Status, page[2].CompleteTime)
	}
	ip, err := s.InProgress(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ip) != 3 || ip[0].ID != "IOLDAAAAAAAAA3" || ip[1].ID != "IOLDAAAAAAAAA4" || ip[2].ID != fresh.ID {
		t.Errorf("InProgress after upgrade = %v", ip)
	}
	next, _, _ := s.List(bg, "E1", "IOLDAAAAAAAAA4", 1)
	if len(next) != 1 || next[0].ID != "IOLDAAAAAAAAA2" {
		t.Errorf("List after an old marker = %v", next)
	}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketOldActive) != nil {
			return errors.New("the old active bucket is still there")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestInvalidationEventLoggedWithCreate: with WithInvalidationEvent, the
// create logs the fleet event in its own transaction, and appending the
// same key afterwards finds it without a write.
func TestInvalidationEventLoggedWithCreate(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, WithInvalidationEvent(fleet.InvalidationEvent))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := commits(t, s)
	inv, created, err := s.Create(bg, invalidation.Invalidation{DistributionID: "E1", Status: invalidation.InProgress, CreateTime: time.Now().UTC(),
		Batch: invalidation.Batch{CallerReference: "r", Paths: []string{"/a"}}}, allowAll)
	if err != nil || !created {
		t.Fatal(err)
	}
	if n := commits(t, s) - before; n != 1 {
		t.Errorf("create took %d commits, want 1", n)
	}
	evs, err := s.EventsAfter(bg, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("EventsAfter = %v, %v; want the invalidation's event", evs, err)
	}
	key, data := fleet.InvalidationEvent(inv)
	if string(evs[0].Data) != string(data) {
		t.Errorf("logged %s, want %s", evs[0].Data, data)
	}
	before = commits(t, s)
	pos, err := s.AppendEvent(bg, key, data)
	if err != nil || pos != evs[0].Pos {
		t.Errorf("AppendEvent(%s) = %d, %v; want %d", key, pos, err, evs[0].Pos)
	}
	if n := commits(t, s) - before; n != 0 {
		t.Errorf("AppendEvent of a logged key took %d commits, want 0", n)
	}
	// The same Id under another distribution is another key.
	other, err := s.AppendEvent(bg, "inv/E2/"+inv.ID, []byte("{}"))
	if err != nil || other == pos {
		t.Errorf("AppendEvent(inv/E2/%s) = %d, %v: must be a new event", inv.ID, other, err)
	}
	if again, _ := s.AppendEvent(bg, "inv/E2/"+inv.ID, []byte("{}")); again != other {
		t.Errorf("second AppendEvent(inv/E2/%s) = %d, want %d", inv.ID, again, other)
	}
	// After a reopen too.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, WithInvalidationEvent(fleet.InvalidationEvent)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before = commits(t, s)
	if again, err := s.AppendEvent(bg, key, data); err != nil || again != pos {
		t.Errorf("AppendEvent(%s) after reopen = %d, %v; want %d", key, again, err, pos)
	}
	if n := commits(t, s) - before; n != 0 {
		t.Errorf("AppendEvent of a logged key after reopen took %d commits, want 0", n)
	}
}

// TestDeletedDistributionIdsNotReused: a distribution deleted and created
// again never hands out an Id (or fleet key) of its former invalidations.
func TestDeletedDistributionIdsNotReused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, WithInvalidationEvent(fleet.InvalidationEvent))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	create := func(ref string) invalidation.Invalidation {
		inv, created, err := s.Create(bg, invalidation.Invalidation{DistributionID: "E1", Status: invalidation.InProgress, CreateTime: time.Now().UTC(),
			Batch: invalidation.Batch{CallerReference: ref, Paths: []string{"/a"}}}, allowAll)
		if err != nil || !created {
			t.Fatal(err)
		}
		if seen[inv.ID] {
			t.Fatalf("Id %s handed out again", inv.ID)
		}
		seen[inv.ID] = true
		return inv
	}
	for i := range 5 {
		create(fmt.Sprint("r", i))
	}
	if err := s.PutDistribution(bg, distribution.Distribution{ID: "E1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDistribution(bg, "E1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountInProgress(bg, "E1"); n != 0 {
		t.Errorf("CountInProgress after delete = %d", n)
	}
	s.Close()
	if s, err = Open(dir, WithInvalidationEvent(fleet.InvalidationEvent)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 5 {
		create(fmt.Sprint("r", i))
	}
	evs, _ := s.EventsAfter(bg, 0, 100)
	if len(evs) != 10 {
		t.Errorf("%d events logged, want 10 (one per invalidation)", len(evs))
	}
}

func TestInProgressValue(t *testing.T) {
	for _, u := range []invalidation.Usage{{}, {FilePaths: 1}, {FilePaths: 3000, WildcardPaths: 15}, {FilePaths: 1 << 40, WildcardPaths: 300}} {
		for _, derived := range []bool{true, false} {
			got, d, ok := parseInProgressValue(inProgressValue(u, derived))
			if !ok || got != u || d != derived {
				t.Errorf("round trip of %+v %v = %+v %v %v", u, derived, got, d, ok)
			}
		}
	}
	for _, v := range [][]byte{nil, {}, {1}, {1, 0}, {3, 0, 0}, {1, 0, 0, 0}, {1, 0x80, 0x80}} {
		if _, _, ok := parseInProgressValue(v); ok {
			t.Errorf("parseInProgressValue(%v) accepted", v)
		}
	}
}
