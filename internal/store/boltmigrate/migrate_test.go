package boltmigrate_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/boltmigrate"
	"github.com/openfront/openfront/internal/store/logstore"
)

var bg = context.Background()

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openLog(dir string) (boltmigrate.Log, error) { return logstore.Open(dir) }

// answers is what internal/store/bolt answered for a fixture when it wrote
// it: testdata/*.db and *.json were written at commit d73c53a by that
// package's TestWriteMigrationFixtures.
type answers struct {
	Distributions []distribution.Distribution            `json:"distributions"`
	Lists         map[string][]invalidation.Invalidation `json:"lists"`
	InProgress    []invalidation.Invalidation            `json:"in_progress"`
}

func readAnswers(t *testing.T, name string) answers {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var a answers
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// dataDir returns a data directory holding the fixture as openfront.db.
func dataDir(t *testing.T, fixture string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, boltmigrate.FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// storeAnswers is what the log store in dir answers, as bolt's were taken.
func storeAnswers(t *testing.T, dir string, dists []string) (answers, *logstore.Store) {
	t.Helper()
	s, err := logstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var a answers
	if a.Distributions, err = s.Distributions(bg); err != nil {
		t.Fatal(err)
	}
	a.Lists = map[string][]invalidation.Invalidation{}
	for _, d := range dists {
		page, _, err := s.List(bg, d, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		a.Lists[d] = page
	}
	if a.InProgress, err = s.InProgress(bg); err != nil {
		t.Fatal(err)
	}
	return a, s
}

func sameAnswers(t *testing.T, got, want answers) {
	t.Helper()
	norm := func(a answers) answers {
		// Times compare as instants; a nil and an empty list are the same.
		data, _ := json.Marshal(a)
		var out answers
		json.Unmarshal(data, &out)
		for k, v := range out.Lists {
			if len(v) == 0 {
				out.Lists[k] = nil
			}
		}
		return out
	}
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g.Distributions, w.Distributions) {
		t.Errorf("distributions after migration:\n got %+v\nwant %+v", g.Distributions, w.Distributions)
	}
	for d := range w.Lists {
		if !reflect.DeepEqual(g.Lists[d], w.Lists[d]) {
			t.Errorf("List(%s) after migration:\n got %+v\nwant %+v", d, g.Lists[d], w.Lists[d])
		}
	}
	if !reflect.DeepEqual(g.InProgress, w.InProgress) {
		t.Errorf("InProgress after migration:\n got %+v\nwant %+v", g.InProgress, w.InProgress)
	}
}

func listed(a answers) []string {
	var ds []string
	for d := range a.Lists {
		ds = append(ds, d)
	}
	return ds
}

// TestMigrate: each fixture's log store answers what bbolt answered, the
// bbolt file is kept aside, and a second start migrates nothing.
func TestMigrate(t *testing.T) {
	for _, fixture := range []string{"current", "older"} {
		t.Run(fixture, func(t *testing.T) {
			want := readAnswers(t, fixture+".json")
			dir := dataDir(t, fixture+".db")
			st, err := boltmigrate.Migrate(bg, dir, logstore.FileName, openLog, quiet)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, l := range want.Lists {
				n += len(l)
			}
			if st.Invalidations != n || st.InProgress != len(want.InProgress) || st.Distributions != len(want.Distributions) {
				t.Errorf("Stats = %+v; want %d invalidations, %d in progress, %d distributions", st, n, len(want.InProgress), len(want.Distributions))
			}
			if _, err := os.Stat(filepath.Join(dir, boltmigrate.FileName)); !os.IsNotExist(err) {
				t.Errorf("the bbolt file is still in the data directory: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, boltmigrate.BackupName, boltmigrate.FileName)); err != nil {
				t.Errorf("the bbolt file was not kept: %v", err)
			}
			again, err := boltmigrate.Migrate(bg, dir, logstore.FileName, openLog, quiet)
			if err != nil || again != (boltmigrate.Stats{}) {
				t.Errorf("second Migrate = %+v, %v; want nothing done", again, err)
			}
			got, _ := storeAnswers(t, dir, listed(want))
			sameAnswers(t, got, want)
		})
	}
}

// TestMigratedStoreWorks: replays of migrated CallerReferences return the
// original Ids, new invalidations follow the migrated ones, and in-progress
// ones complete.
func TestMigratedStoreWorks(t *testing.T) {
	want := readAnswers(t, "current.json")
	dir := dataDir(t, "current.db")
	if _, err := boltmigrate.Migrate(bg, dir, logstore.FileName, openLog, quiet); err != nil {
		t.Fatal(err)
	}
	_, s := storeAnswers(t, dir, nil)
	const d = "EAPIDIST00001"
	old := want.Lists[d]
	for _, inv := range old {
		got, created, err := s.Create(bg, invalidation.Invalidation{DistributionID: d, Status: invalidation.InProgress, CreateTime: time.Now(),
			Batch: inv.Batch}, func(invalidation.Usage) error { return nil })
		if err != nil || created || got.ID != inv.ID {
			t.Errorf("replay of %s (%s) = %s, created %v, %v", inv.ID, inv.Batch.CallerReference, got.ID, created, err)
		}
	}
	fresh, created, err := s.Create(bg, invalidation.Invalidation{DistributionID: d, Status: invalidation.InProgress, CreateTime: time.Now(),
		Batch: invalidation.Batch{CallerReference: "after-migration", Paths: []string{"/new"}}}, func(invalidation.Usage) error { return nil })
	if err != nil || !created {
		t.Fatalf("Create after migration: %v", err)
	}
	for _, inv := range old {
		if inv.ID == fresh.ID {
			t.Fatalf("new invalidation got a migrated Id %s", fresh.ID)
		}
	}
	page, _, err := s.List(bg, d, "", 1)
	if err != nil || len(page) != 1 || page[0].ID != fresh.ID {
		t.Errorf("List after migration starts with %+v, %v; want the new %s", page, err, fresh.ID)
	}
	for _, inv := range want.InProgress {
		if err := s.Complete(bg, inv.DistributionID, inv.ID, time.Now()); err != nil {
			t.Errorf("Complete(%s): %v", inv.ID, err)
		}
	}
}

// TestMigrateInterrupted: a migration stopped at any step is redone or
// finished at the next start, never half-used.
func TestMigrateInterrupted(t *testing.T) {
	want := readAnswers(t, "current.json")
	work := ".migrate-from-bbolt"

	t.Run("before the bbolt file moved", func(t *testing.T) {
		dir := dataDir(t, "current.db")
		// A partial log, as a crash while copying leaves it.
		if err := os.MkdirAll(filepath.Join(dir, work), 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := logstore.Open(filepath.Join(dir, work))
		if err != nil {
			t.Fatal(err)
		}
		s.Create(bg, invalidation.Invalidation{DistributionID: "EAPIDIST00001", ID: "IPARTIAL00000X", Status: invalidation.InProgress, CreateTime: time.Now(),
			Batch: invalidation.Batch{CallerReference: "partial", Paths: []string{"/p"}}}, func(invalidation.Usage) error { return nil })
		s.Close()
		if _, err := boltmigrate.Migrate(bg, dir, logstore.FileName, openLog, quiet); err != nil {
			t.Fatal(err)
		}
		got, _ := storeAnswers(t, dir, listed(want))
		sameAnswers(t, got, want)
	})

	t.Run("after the bbolt file moved", func(t *testing.T) {
		// Migrate fully into another directory, then rebuild the state
		// after step 2: work holding the complete log and the bbolt file.
		full := dataDir(t, "current.db")
		if _, err := boltmigrate.Migrate(bg, full, logstore.FileName, openLog, quiet); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, work), 0o700)
		os.Rename(filepath.Join(full, logstore.FileName), filepath.Join(dir, work, logstore.FileName))
		os.Rename(filepath.Join(full, boltmigrate.BackupName, boltmigrate.FileName), filepath.Join(dir, work, boltmigrate.FileName))
		if _, err := boltmigrate.Migrate(bg, dir, logstore.FileName, openLog, quiet); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, work)); !os.IsNotExist(err) {
			t.Errorf("the work directory is still there: %v", err)
		}
		got, _ := storeAnswers(t, dir, listed(want))
		sameAnswers(t, got, want)
	})

	t.Run("a log next to the bbolt file", func(t *testing.T) {
		dir := dataDir(t, "current.db")
		s, err := logstore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.Create(bg, invalidation.Invalidation{DistributionID: "EAPIDIST00001", ID: "ISTALELOG0000X", Status: invalidation.InProgress, CreateTime: time.Now(),
			Batch: invalidation.Batch{CallerReference: "stale", Paths: []string{"/s"}}}, func(invalidation.Usage) error { return nil })
		s.Close()
		if _, err := boltmigrate.Migrate(bg, dir, logstore.FileName, openLog, quiet); err != nil {
			t.Fatal(err)
		}
		aside, _ := filepath.Glob(filepath.Join(dir, logstore.FileName+".unused-*"))
		if len(aside) != 1 {
			t.Errorf("the unused log was not set aside: %v", aside)
		}
		got, _ := storeAnswers(t, dir, listed(want))
		sameAnswers(t, got, want)
	})
}

// TestCopyLeavesTheFileUnchanged: Copy opens the bbolt file read-only.
func TestCopyLeavesTheFileUnchanged(t *testing.T) {
	dir := dataDir(t, "older.db")
	path := filepath.Join(dir, boltmigrate.FileName)
	before, _ := os.ReadFile(path)
	s, err := logstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := boltmigrate.Copy(bg, path, s); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("Copy changed the bbolt file")
	}
}
