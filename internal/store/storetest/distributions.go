package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/resource"
)

// DistributionStore is what a backend keeps distributions in: with the
// invalidations stored under them, which deleting a distribution removes,
// and the resources they refer to (one store, so that a reference is
// checked against both in the same write).
type DistributionStore interface {
	invalidation.Store
	distribution.Store
	resource.Store
}

// racers is how many goroutines the racing tests run at once.
const racers = 40

// RunDistributions checks that the stores open returns keep distributions
// as distribution.Store documents. open must return a new, empty store;
// RunDistributions closes what it opens.
func RunDistributions(t *testing.T, open func(t *testing.T) DistributionStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s DistributionStore)
	}{
		{"CreateGetList", testDistCreateGetList},
		{"IDTaken", testDistIDTaken},
		{"CallerReferenceTaken", testDistCallerReferenceTaken},
		{"AliasTaken", testDistAliasTaken},
		{"Update", testDistUpdate},
		{"UpdateChangeError", testDistUpdateChangeError},
		{"UpdateImmutable", testDistUpdateImmutable},
		{"UpdateUnknown", testDistUpdateUnknown},
		{"DeleteCheck", testDistDeleteCheck},
		{"DeleteRemovesInvalidations", testDeleteRemovesInvalidations},
		{"DeleteUnknown", testDeleteUnknown},
		{"Refs", testDistRefs},
		{"DistributionCopies", testDistributionCopies},
		{"ConcurrentCreates", testConcurrentCreates},
		{"RacingCallerReference", testRacingCallerReference},
		{"RacingAlias", testRacingAlias},
		{"RacingCompareAndSwap", testDistRacingCAS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// RunDistributionsDurable checks that writes, and the rules the indexes
// enforce, survive Close and a new open of the same directory.
func RunDistributionsDurable(t *testing.T, open func(t *testing.T, dir string) DistributionStore) {
	t.Helper()
	t.Run("ReopenDistributions", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		mustCreateRes(t, s, sampleRes(resource.CachePolicy, "CP1", "policy-1"))
		a, b, c := sampleDist("EDURABLE00001", 1), sampleDist("EDURABLE00002", 2), sampleDist("EDURABLE00003", 3)
		a.Refs = []resource.Ref{{Kind: resource.CachePolicy, ID: "CP1"}}
		for _, d := range []distribution.Distribution{a, b, c} {
			mustCreateDist(t, s, d)
		}
		b2, err := s.UpdateDistribution(ctx, b.ID, func(d *distribution.Distribution) error {
			d.ETag, d.Status = "ENEWETAG", "InProgress"
			d.Config.Aliases = []string{"moved.example"}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		m := &maker{}
		gone := mustCreate(t, s, m.inv(c.ID, "c-1", "/c"))
		if err := s.DeleteDistribution(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		t.Cleanup(func() { s.Close() })
		wantDists(t, s, a, b2)
		if _, err := s.Get(ctx, gone.DistributionID, gone.ID); err == nil {
			t.Errorf("an invalidation of a deleted distribution is back after reopening")
		}
		// The indexes are back too.
		x := sampleDist("EDURABLE00009", 9)
		x.CallerReference = a.CallerReference
		wantDistErr(t, s, x, distribution.ErrCallerReferenceTaken)
		x = sampleDist("EDURABLE00009", 9)
		x.Config.Aliases = []string{"MOVED.example."}
		wantDistErr(t, s, x, distribution.ErrAliasTaken)
		// b's old alias and c's are free again.
		x.Config.Aliases = []string{b.Config.Aliases[0], c.Config.Aliases[0]}
		x.CallerReference = c.CallerReference
		mustCreateDist(t, s, x)
		if err := s.DeleteResource(ctx, resource.CachePolicy, "CP1", nil); !errors.Is(err, resource.ErrInUse) {
			t.Errorf("DeleteResource of a policy a distribution names, after reopening: %v, want ErrInUse", err)
		}
	})
	t.Run("ReopenAfterRacingWriters", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		winner := raceCallerReference(t, s)
		cas := raceCAS(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		t.Cleanup(func() { s.Close() })
		got, err := s.Distributions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != min(winner, cas.ID) || got[1].ID != max(winner, cas.ID) {
			t.Fatalf("after reopening: %d distributions %v, want %s and %s", len(got), distIDs(got), winner, cas.ID)
		}
		d, err := s.GetDistribution(ctx, cas.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := sameDist(d, cas); diff != "" {
			t.Errorf("the distribution the racing updates changed, after reopening: %s", diff)
		}
	})
}

// sampleDist is a distribution with every stored field set.
func sampleDist(id string, n int) distribution.Distribution {
	ref := fmt.Sprintf("dist-ref-%d", n)
	return distribution.Distribution{
		ID: id, ARN: "arn:aws:cloudfront::000000000000:distribution/" + id,
		Domain: fmt.Sprintf("d%013d.cloudfront.localhost", n), ETag: fmt.Sprintf("ETAG%d", n),
		Status: "Deployed", LastModified: base.Add(time.Duration(n) * time.Second),
		CallerReference: ref,
		Config: distribution.Config{Enabled: true, Comment: "comment " + ref, Aliases: []string{ref + ".example"},
			DefaultRootObject: "index.html", Origins: []distribution.Origin{{ID: "o1", DomainName: ref + ".origin.example", OriginPath: "/p"}}},
		RawConfig: []byte("<DistributionConfig><CallerReference>" + ref + "</CallerReference></DistributionConfig>"),
		Tags:      []distribution.Tag{{Key: "team", Value: ref}, {Key: "n", Value: fmt.Sprint(n)}},
	}
}

// sameDist says how got differs from want in what a store keeps, or "".
func sameDist(got, want distribution.Distribution) string {
	switch {
	case got.ID != want.ID || got.ARN != want.ARN || got.Domain != want.Domain || got.ETag != want.ETag || got.Status != want.Status:
		return fmt.Sprintf("identity %s %s %s %s %s, want %s %s %s %s %s", got.ID, got.ARN, got.Domain, got.ETag, got.Status,
			want.ID, want.ARN, want.Domain, want.ETag, want.Status)
	case !got.LastModified.Equal(want.LastModified):
		return fmt.Sprintf("LastModified %v, want %v", got.LastModified, want.LastModified)
	case got.CallerReference != want.CallerReference:
		return fmt.Sprintf("CallerReference %q, want %q", got.CallerReference, want.CallerReference)
	case string(got.RawConfig) != string(want.RawConfig):
		return fmt.Sprintf("RawConfig %q, want %q", got.RawConfig, want.RawConfig)
	case !slices.Equal(got.Tags, want.Tags):
		return fmt.Sprintf("Tags %v, want %v", got.Tags, want.Tags)
	case !slices.Equal(got.Refs, want.Refs):
		return fmt.Sprintf("Refs %v, want %v", got.Refs, want.Refs)
	case got.Config.Enabled != want.Config.Enabled || got.Config.Comment != want.Config.Comment ||
		!slices.Equal(got.Config.Aliases, want.Config.Aliases) || got.Config.DefaultRootObject != want.Config.DefaultRootObject ||
		len(got.Config.Origins) != len(want.Config.Origins) ||
		(len(want.Config.Origins) > 0 && got.Config.Origins[0].DomainName != want.Config.Origins[0].DomainName):
		return fmt.Sprintf("Config %+v, want %+v", got.Config, want.Config)
	}
	return ""
}

func distIDs(ds []distribution.Distribution) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// wantDists checks that s holds exactly want, listed in order of Id, and
// that GetDistribution returns each.
func wantDists(t *testing.T, s distribution.Store, want ...distribution.Distribution) {
	t.Helper()
	got, err := s.Distributions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b distribution.Distribution) int { return cmpString(a.ID, b.ID) })
	if !slices.Equal(distIDs(got), distIDs(want)) {
		t.Fatalf("Distributions listed %v, want %v", distIDs(got), distIDs(want))
	}
	for i, w := range want {
		if diff := sameDist(got[i], w); diff != "" {
			t.Errorf("distribution %s listed: %s", w.ID, diff)
		}
		g, err := s.GetDistribution(ctx, w.ID)
		if err != nil {
			t.Errorf("GetDistribution(%s): %v", w.ID, err)
			continue
		}
		if diff := sameDist(g, w); diff != "" {
			t.Errorf("GetDistribution(%s): %s", w.ID, diff)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func mustCreateDist(t *testing.T, s distribution.Store, d distribution.Distribution) {
	t.Helper()
	if err := s.CreateDistribution(ctx, d); err != nil {
		t.Fatalf("CreateDistribution(%s): %v", d.ID, err)
	}
}

// wantDistErr checks that creating d fails with want and writes nothing.
func wantDistErr(t *testing.T, s distribution.Store, d distribution.Distribution, want error) {
	t.Helper()
	before, err := s.Distributions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDistribution(ctx, d); !errors.Is(err, want) {
		t.Fatalf("CreateDistribution(%s) = %v, want %v", d.ID, err, want)
	}
	wantDists(t, s, before...)
}

// errRefused is what the tests' change and check functions fail with.
var errRefused = errors.New("refused by the test")

func testDistCreateGetList(t *testing.T, s DistributionStore) {
	wantDists(t, s)
	a, b, c := sampleDist("ECREATE000003", 3), sampleDist("ECREATE000001", 1), sampleDist("ECREATE000002", 2)
	for _, d := range []distribution.Distribution{a, b, c} {
		mustCreateDist(t, s, d)
	}
	wantDists(t, s, a, b, c)
	if _, err := s.GetDistribution(ctx, "ENOSUCHDIST01"); !errors.Is(err, distribution.ErrNotFound) {
		t.Errorf("GetDistribution of an unknown Id: %v, want ErrNotFound", err)
	}
}

func testDistIDTaken(t *testing.T, s DistributionStore) {
	a := sampleDist("EIDTAKEN00001", 1)
	mustCreateDist(t, s, a)
	b := sampleDist(a.ID, 2) // another CallerReference and alias
	wantDistErr(t, s, b, distribution.ErrIDTaken)
	wantDists(t, s, a)
}

func testDistCallerReferenceTaken(t *testing.T, s DistributionStore) {
	a := sampleDist("EREFTAKEN0001", 1)
	mustCreateDist(t, s, a)
	b := sampleDist("EREFTAKEN0002", 2)
	b.CallerReference = a.CallerReference
	wantDistErr(t, s, b, distribution.ErrCallerReferenceTaken)
	// Deleting a frees its CallerReference.
	if err := s.DeleteDistribution(ctx, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	mustCreateDist(t, s, b)
	wantDists(t, s, b)
}

func testDistAliasTaken(t *testing.T, s DistributionStore) {
	a := sampleDist("EALIAS0000001", 1)
	a.Config.Aliases = []string{"www.Example.com", "static.example.com"}
	mustCreateDist(t, s, a)
	// Aliases are compared by AliasKey: case and a final dot do not count.
	for _, alias := range []string{"WWW.example.com.", "www.example.com", "Static.Example.Com."} {
		b := sampleDist("EALIAS0000002", 2)
		b.Config.Aliases = []string{"free.example.com", alias}
		wantDistErr(t, s, b, distribution.ErrAliasTaken)
	}
	b := sampleDist("EALIAS0000002", 2)
	b.Config.Aliases = []string{"free.example.com"}
	mustCreateDist(t, s, b)
	// An update may not take an alias another holds...
	_, err := s.UpdateDistribution(ctx, b.ID, func(d *distribution.Distribution) error {
		d.Config.Aliases = append(d.Config.Aliases, "WWW.EXAMPLE.COM")
		d.ETag = "ETAKES"
		return nil
	})
	if !errors.Is(err, distribution.ErrAliasTaken) {
		t.Fatalf("UpdateDistribution taking another's alias: %v, want ErrAliasTaken", err)
	}
	wantDists(t, s, a, b)
	// ...but may keep its own (in another case), and give one up.
	a2, err := s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error {
		d.Config.Aliases = []string{"WWW.example.com."}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateDistribution keeping its own alias: %v", err)
	}
	// Which the other may then take.
	b2, err := s.UpdateDistribution(ctx, b.ID, func(d *distribution.Distribution) error {
		d.Config.Aliases = append(d.Config.Aliases, "static.example.com")
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateDistribution taking an alias given up: %v", err)
	}
	wantDists(t, s, a2, b2)
}

func testDistUpdate(t *testing.T, s DistributionStore) {
	a := sampleDist("EUPDATE000001", 1)
	mustCreateDist(t, s, a)
	calls := 0
	got, err := s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error {
		calls++
		if diff := sameDist(*d, a); diff != "" {
			t.Errorf("change got %s", diff)
		}
		d.ETag, d.Status, d.RawConfig = "ESECOND", "InProgress", []byte("<DistributionConfig/>")
		d.Config.Comment = "changed"
		d.Tags = nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("change was not called")
	}
	want := a
	want.ETag, want.Status, want.RawConfig, want.Tags = "ESECOND", "InProgress", []byte("<DistributionConfig/>"), nil
	want.Config.Comment = "changed"
	if diff := sameDist(got, want); diff != "" {
		t.Errorf("UpdateDistribution returned %s", diff)
	}
	wantDists(t, s, want)
}

func testDistUpdateChangeError(t *testing.T, s DistributionStore) {
	a := sampleDist("ECHANGEERR001", 1)
	mustCreateDist(t, s, a)
	_, err := s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error {
		// What change does to its copy before failing stays there.
		d.ETag, d.Config.Aliases = "ELOST", []string{"lost.example"}
		d.RawConfig[0] = 'X'
		d.Tags[0].Value = "lost"
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("UpdateDistribution whose change fails = %v, want the change's error", err)
	}
	wantDists(t, s, a)
	// The alias the failed change named is not held.
	b := sampleDist("ECHANGEERR002", 2)
	b.Config.Aliases = []string{"lost.example"}
	mustCreateDist(t, s, b)
}

func testDistUpdateImmutable(t *testing.T, s DistributionStore) {
	a := sampleDist("EIMMUTABLE001", 1)
	mustCreateDist(t, s, a)
	for name, change := range map[string]func(d *distribution.Distribution){
		"Id":              func(d *distribution.Distribution) { d.ID = "EIMMUTABLE002" },
		"CallerReference": func(d *distribution.Distribution) { d.CallerReference = "another" },
	} {
		_, err := s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error {
			change(d)
			d.ETag = "ECHANGED"
			return nil
		})
		if err == nil {
			t.Errorf("UpdateDistribution changing the %s succeeded", name)
		}
		wantDists(t, s, a)
	}
}

func testDistUpdateUnknown(t *testing.T, s DistributionStore) {
	_, err := s.UpdateDistribution(ctx, "ENOSUCHDIST01", func(d *distribution.Distribution) error {
		t.Error("change called for an unknown distribution")
		return nil
	})
	if !errors.Is(err, distribution.ErrNotFound) {
		t.Errorf("UpdateDistribution of an unknown Id: %v, want ErrNotFound", err)
	}
	wantDists(t, s)
}

func testDistDeleteCheck(t *testing.T, s DistributionStore) {
	a := sampleDist("EDELCHECK0001", 1)
	mustCreateDist(t, s, a)
	err := s.DeleteDistribution(ctx, a.ID, func(d distribution.Distribution) error {
		if diff := sameDist(d, a); diff != "" {
			t.Errorf("check got %s", diff)
		}
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("DeleteDistribution whose check fails = %v, want the check's error", err)
	}
	wantDists(t, s, a)
	checked := false
	if err := s.DeleteDistribution(ctx, a.ID, func(d distribution.Distribution) error { checked = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Error("check was not called")
	}
	wantDists(t, s)
	if _, err := s.GetDistribution(ctx, a.ID); !errors.Is(err, distribution.ErrNotFound) {
		t.Errorf("GetDistribution after deleting: %v, want ErrNotFound", err)
	}
}

func testDeleteRemovesInvalidations(t *testing.T, s DistributionStore) {
	a, b := sampleDist("EDELETE000001", 1), sampleDist("EDELETE000002", 2)
	for _, d := range []distribution.Distribution{a, b} {
		mustCreateDist(t, s, d)
	}
	m := &maker{}
	gone := mustCreate(t, s, m.inv(a.ID, "a-1", "/a", "/a/*"))
	kept := mustCreate(t, s, m.inv(b.ID, "b-1", "/b"))
	if err := s.DeleteDistribution(ctx, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	wantDists(t, s, b)
	if _, err := s.Get(ctx, a.ID, gone.ID); err == nil {
		t.Error("an invalidation of the deleted distribution is still there")
	}
	wantCount(t, s, a.ID, 0)
	wantUsage(t, s, a.ID, invalidation.Usage{})
	wantInProgress(t, s, kept.ID)
	checkGet(t, s, kept)
	// The distribution may be created again: its invalidations start over.
	mustCreateDist(t, s, a)
	again := mustCreate(t, s, m.inv(a.ID, "a-1", "/a"))
	if again.ID == gone.ID {
		t.Errorf("a distribution created again got back Id %s of its deleted invalidation", gone.ID)
	}
}

func testDeleteUnknown(t *testing.T, s DistributionStore) {
	err := s.DeleteDistribution(ctx, "ENOSUCHDIST01", func(distribution.Distribution) error {
		t.Error("check called for an unknown distribution")
		return nil
	})
	if !errors.Is(err, distribution.ErrNotFound) {
		t.Errorf("DeleteDistribution of an unknown Id: %v, want ErrNotFound", err)
	}
	wantDists(t, s)
}

func testDistRefs(t *testing.T, s DistributionStore) {
	cp := resource.Ref{Kind: resource.CachePolicy, ID: "CPREFS"}
	oac := resource.Ref{Kind: resource.OriginAccessControl, ID: "OACREFS"}
	a := sampleDist("EREFS00000001", 1)
	a.Refs = []resource.Ref{cp}
	var missing *resource.MissingRefError
	if err := s.CreateDistribution(ctx, a); !errors.As(err, &missing) || missing.Ref != cp {
		t.Fatalf("CreateDistribution naming a missing policy = %v, want a MissingRefError for %v", err, cp)
	}
	wantDists(t, s)
	// A resource of another kind with that Id does not count.
	mustCreateRes(t, s, sampleRes(resource.OriginRequestPolicy, cp.ID, "orp"))
	if err := s.CreateDistribution(ctx, a); !errors.As(err, &missing) {
		t.Fatalf("CreateDistribution naming a policy of another kind = %v, want a MissingRefError", err)
	}
	mustCreateRes(t, s, sampleRes(cp.Kind, cp.ID, "cp"))
	mustCreateDist(t, s, a)
	wantDists(t, s, a)
	if err := s.DeleteResource(ctx, cp.Kind, cp.ID, nil); !errors.Is(err, resource.ErrInUse) {
		t.Fatalf("DeleteResource of a policy a distribution names = %v, want ErrInUse", err)
	}
	_, err := s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error {
		d.Refs = append(d.Refs, oac)
		return nil
	})
	if !errors.As(err, &missing) || missing.Ref != oac {
		t.Fatalf("UpdateDistribution naming a missing origin access control = %v, want a MissingRefError for %v", err, oac)
	}
	wantDists(t, s, a)
	mustCreateRes(t, s, sampleRes(oac.Kind, oac.ID, "oac"))
	a2, err := s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error {
		d.Refs = []resource.Ref{oac}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The policy is no longer named; the origin access control is.
	if err := s.DeleteResource(ctx, cp.Kind, cp.ID, nil); err != nil {
		t.Errorf("DeleteResource of a policy no longer named: %v", err)
	}
	if err := s.DeleteResource(ctx, oac.Kind, oac.ID, nil); !errors.Is(err, resource.ErrInUse) {
		t.Errorf("DeleteResource of an origin access control a distribution names = %v, want ErrInUse", err)
	}
	wantDists(t, s, a2)
	if err := s.DeleteDistribution(ctx, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResource(ctx, oac.Kind, oac.ID, nil); err != nil {
		t.Errorf("DeleteResource once the distribution naming it is gone: %v", err)
	}
}

func testDistributionCopies(t *testing.T, s DistributionStore) {
	a := sampleDist("ECOPIES000001", 1)
	a.Refs = []resource.Ref{{Kind: resource.CachePolicy, ID: "CPCOPIES"}}
	mustCreateRes(t, s, sampleRes(resource.CachePolicy, "CPCOPIES", "copies"))
	put := a
	put.RawConfig = slices.Clone(a.RawConfig)
	put.Tags = slices.Clone(a.Tags)
	put.Refs = slices.Clone(a.Refs)
	put.Config.Aliases = slices.Clone(a.Config.Aliases)
	mustCreateDist(t, s, put)
	put.RawConfig[0] = 'X'
	put.Tags[0].Value = "changed"
	put.Refs[0].ID = "changed"
	put.Config.Aliases[0] = "changed"
	got, err := s.Distributions(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("Distributions = %v, %v", got, err)
	}
	got[0].RawConfig[0] = 'Y'
	got[0].Tags[0].Value = "changed too"
	got[0].Refs[0].ID = "changed too"
	one, err := s.GetDistribution(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	one.RawConfig[0] = 'Z'
	one.Config.Aliases[0] = "changed as well"
	up, err := s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	up.RawConfig[0] = 'W'
	up.Tags[0].Value = "changed again"
	wantDists(t, s, a)
}

func testConcurrentCreates(t *testing.T, s DistributionStore) {
	var wg sync.WaitGroup
	want := make([]distribution.Distribution, racers)
	errs := make([]error, len(want))
	for i := range want {
		want[i] = sampleDist(fmt.Sprintf("ECONCUR%06d", i), i)
		wg.Go(func() { errs[i] = s.CreateDistribution(ctx, want[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateDistribution %d: %v", i, err)
		}
	}
	wantDists(t, s, want...)
}

// race runs fn(i) for i in [0, racers) at once and returns their errors.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and every other is
// want, and returns the winner's index.
func oneWinner(t *testing.T, errs []error, want error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, want):
			t.Errorf("racer %d: %v, want %v", i, err, want)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer succeeded")
	}
	return winner
}

// raceCallerReference has racers create distributions with one
// CallerReference and returns the Id of the one that must win.
func raceCallerReference(t *testing.T, s DistributionStore) string {
	t.Helper()
	ds := make([]distribution.Distribution, racers)
	for i := range ds {
		ds[i] = sampleDist(fmt.Sprintf("ERACEREF%05d", i), 100+i)
		ds[i].CallerReference = "same-caller-reference"
	}
	w := oneWinner(t, race(func(i int) error { return s.CreateDistribution(ctx, ds[i]) }), distribution.ErrCallerReferenceTaken)
	got, err := s.GetDistribution(ctx, ds[w].ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameDist(got, ds[w]); diff != "" {
		t.Errorf("the winner: %s", diff)
	}
	return ds[w].ID
}

func testRacingCallerReference(t *testing.T, s DistributionStore) {
	winner := raceCallerReference(t, s)
	got, err := s.Distributions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := distIDs(got); !slices.Equal(ids, []string{winner}) {
		t.Errorf("after the race: %v, want only %s", ids, winner)
	}
}

func testRacingAlias(t *testing.T, s DistributionStore) {
	ds := make([]distribution.Distribution, racers)
	for i := range ds {
		ds[i] = sampleDist(fmt.Sprintf("ERACEALIAS%03d", i), i)
		// The same alias, spelt differently by each.
		alias := "race.example.com"
		if i%2 == 1 {
			alias = "Race.Example.com."
		}
		ds[i].Config.Aliases = []string{fmt.Sprintf("own-%d.example.com", i), alias}
	}
	w := oneWinner(t, race(func(i int) error { return s.CreateDistribution(ctx, ds[i]) }), distribution.ErrAliasTaken)
	wantDists(t, s, ds[w])
}

// raceCAS has racers update one distribution by compare-and-swap, each
// until it succeeds, and checks that no update is lost; it returns the
// distribution as it must be stored.
func raceCAS(t *testing.T, s DistributionStore) distribution.Distribution {
	t.Helper()
	a := sampleDist("ERACECAS00001", 1)
	a.Tags = nil
	mustCreateDist(t, s, a)
	replaced := make([]string, racers) // the ETag each racer's update replaced
	errConflict := errors.New("ETag changed since read")
	errs := race(func(i int) error {
		for attempt := 0; attempt < 100*racers; attempt++ {
			cur, err := s.GetDistribution(ctx, a.ID)
			if err != nil {
				return err
			}
			_, err = s.UpdateDistribution(ctx, a.ID, func(d *distribution.Distribution) error {
				if d.ETag != cur.ETag {
					return errConflict
				}
				// Let the other racers run: a store that runs change
				// outside its write would lose updates meanwhile.
				runtime.Gosched()
				d.ETag = fmt.Sprintf("ERACER%d", i)
				d.Tags = append(d.Tags, distribution.Tag{Key: fmt.Sprint("racer-", i), Value: cur.ETag})
				return nil
			})
			if errors.Is(err, errConflict) {
				continue
			}
			if err == nil {
				replaced[i] = cur.ETag
			}
			return err
		}
		return errors.New("no update succeeded")
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	got, err := s.GetDistribution(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Each success replaced a distinct version (none was updated twice),
	// and each left its tag: as many tags as successes.
	versions := map[string]bool{}
	for _, e := range replaced {
		versions[e] = true
	}
	if len(versions) != racers || len(got.Tags) != racers {
		t.Fatalf("%d updates succeeded, replacing %d distinct versions; %d of their tags are stored", racers, len(versions), len(got.Tags))
	}
	// The tags chain the versions: each names the one its update replaced.
	e := a.ETag
	for _, tag := range got.Tags {
		if tag.Value != e {
			t.Fatalf("tag %s replaced version %s, want %s", tag.Key, tag.Value, e)
		}
		e = "ERACER" + tag.Key[len("racer-"):]
	}
	if got.ETag != e {
		t.Errorf("ETag %s, want %s (the last update's)", got.ETag, e)
	}
	want := a
	want.ETag, want.Tags = got.ETag, got.Tags
	if diff := sameDist(got, want); diff != "" {
		t.Errorf("after the racing updates: %s", diff)
	}
	return got
}

func testDistRacingCAS(t *testing.T, s DistributionStore) { raceCAS(t, s) }
