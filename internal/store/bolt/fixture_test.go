package bolt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// TestWriteMigrationFixtures writes the bbolt data files that
// internal/store/boltmigrate's tests migrate, with what this store answers
// for them: OPENFRONT_WRITE_FIXTURES=DIR go test -run WriteMigrationFixtures.
// current.db is written through this Store; older.db in the layout of the
// versions before sequence-derived Ids (writeOldLayout), never upgraded.
func TestWriteMigrationFixtures(t *testing.T) {
	out := os.Getenv("OPENFRONT_WRITE_FIXTURES")
	if out == "" {
		t.Skip("OPENFRONT_WRITE_FIXTURES is not set")
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// current.db
	dir := t.TempDir()
	s, err := Open(dir, WithInvalidationEvent(fleet.InvalidationEvent))
	if err != nil {
		t.Fatal(err)
	}
	dist := func(id, ref string) distribution.Distribution {
		return distribution.Distribution{ID: id, ARN: "arn:aws:cloudfront::000000000000:distribution/" + id,
			Domain: "d" + id[1:] + ".cloudfront.localhost", ETag: "E" + id + "TAG", Status: "Deployed",
			LastModified: t0, CallerReference: ref,
			Config:    distribution.Config{Enabled: true, Aliases: []string{ref + ".example"}},
			RawConfig: []byte("<DistributionConfig><CallerReference>" + ref + "</CallerReference></DistributionConfig>"),
			Tags:      []distribution.Tag{{Key: "team", Value: ref}}}
	}
	for _, d := range []distribution.Distribution{dist("EAPIDIST00001", "api-1"), dist("EAPIDIST00002", "api-2"), dist("EGONEDIST0001", "gone")} {
		if err := s.PutDistribution(bg, d); err != nil {
			t.Fatal(err)
		}
	}
	create := func(distID, ref, id string, i int, paths ...string) invalidation.Invalidation {
		inv, _, err := s.Create(bg, invalidation.Invalidation{DistributionID: distID, ID: id, Status: invalidation.InProgress,
			CreateTime: t0.Add(time.Duration(i) * time.Second), Batch: invalidation.Batch{CallerReference: ref, Paths: paths}}, allowAll)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	var done []invalidation.Invalidation
	for i := range 6 {
		inv := create("EAPIDIST00001", "ref-"+string(rune('a'+i)), "", i, "/a/"+string(rune('a'+i)), "/images/*")
		if i%2 == 0 {
			done = append(done, inv)
		}
	}
	create("EAPIDIST00001", "given-id", "IGIVENID00001X", 7, "/given")
	create("EDFDVBD6EXAMPLE", "file-1", "", 8, "/index.html")
	create("EDFDVBD6EXAMPLE", "file-2", "", 9, "/*")
	create("EGONEDIST0001", "gone-1", "", 10, "/gone")
	for i, inv := range done {
		if err := s.Complete(bg, inv.DistributionID, inv.ID, t0.Add(time.Minute+time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteDistribution(bg, "EGONEDIST0001"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveEdges(bg, map[string][]byte{"local": []byte(`{"position":3}`)}); err != nil {
		t.Fatal(err)
	}
	writeAnswers(t, s, filepath.Join(out, "current.json"), "EAPIDIST00001", "EDFDVBD6EXAMPLE", "EGONEDIST0001")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dir, FileName), filepath.Join(out, "current.db"))

	// older.db, and what this store answers once it has upgraded a copy.
	dir = t.TempDir()
	mk := func(distID, id, ref string, st invalidation.Status, i int, paths ...string) invalidation.Invalidation {
		inv := invalidation.Invalidation{DistributionID: distID, ID: id, Status: st, CreateTime: t0.Add(time.Duration(i) * time.Second),
			Batch: invalidation.Batch{CallerReference: ref, Paths: paths}}
		if st == invalidation.Completed {
			inv.CompleteTime = inv.CreateTime.Add(time.Minute)
		}
		return inv
	}
	writeOldLayout(t, dir, []invalidation.Invalidation{
		mk("E1", "IOLDAAAAAAAAA1", "r1", invalidation.Completed, 1, "/a"),
		mk("E1", "IOLDAAAAAAAAA2", "r2", invalidation.InProgress, 2, "/b", "/c*"),
		mk("E2", "IOLDAAAAAAAAA3", "r1", invalidation.InProgress, 3, "/d"),
		mk("E1", "IOLDAAAAAAAAA4", "r3", invalidation.Completed, 4, "/e"),
	})
	copyFile(t, filepath.Join(dir, FileName), filepath.Join(out, "older.db"))
	s = open(t, dir)
	writeAnswers(t, s, filepath.Join(out, "older.json"), "E1", "E2")
	s.Close()
}

// answers is what the store answered for a fixture: its distributions,
// each distribution's invalidations newest first, and the InProgress ones.
type answers struct {
	Distributions []distribution.Distribution            `json:"distributions"`
	Lists         map[string][]invalidation.Invalidation `json:"lists"`
	InProgress    []invalidation.Invalidation            `json:"in_progress"`
}

func writeAnswers(t *testing.T, s *Store, path string, dists ...string) {
	t.Helper()
	var a answers
	var err error
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
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
