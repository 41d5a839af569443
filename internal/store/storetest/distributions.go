package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

// DistributionStore is what a backend keeps distributions in: with the
// invalidations stored under them, which deleting a distribution removes.
type DistributionStore interface {
	invalidation.Store
	distribution.Store
}

// RunDistributions checks that the stores open returns keep distributions
// as distribution.Store documents. open must return a new, empty store;
// RunDistributions closes what it opens.
func RunDistributions(t *testing.T, open func(t *testing.T) DistributionStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s DistributionStore)
	}{
		{"PutAndList", testPutAndList},
		{"PutReplaces", testPutReplaces},
		{"DeleteRemovesInvalidations", testDeleteRemovesInvalidations},
		{"DeleteUnknown", testDeleteUnknown},
		{"DistributionCopies", testDistributionCopies},
		{"ConcurrentPuts", testConcurrentPuts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// RunDistributionsDurable checks that puts and deletes survive Close and
// a new open of the same directory.
func RunDistributionsDurable(t *testing.T, open func(t *testing.T, dir string) DistributionStore) {
	t.Helper()
	t.Run("ReopenDistributions", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		a, b, c := sampleDist("EDURABLE00001", 1), sampleDist("EDURABLE00002", 2), sampleDist("EDURABLE00003", 3)
		for _, d := range []distribution.Distribution{a, b, c} {
			if err := s.PutDistribution(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		b2 := b
		b2.ETag, b2.Status = "ENEWETAG", "InProgress"
		if err := s.PutDistribution(ctx, b2); err != nil {
			t.Fatal(err)
		}
		m := &maker{}
		gone := mustCreate(t, s, m.inv(c.ID, "c-1", "/c"))
		if err := s.DeleteDistribution(ctx, c.ID); err != nil {
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
	case got.Config.Enabled != want.Config.Enabled || got.Config.Comment != want.Config.Comment ||
		!slices.Equal(got.Config.Aliases, want.Config.Aliases) || got.Config.DefaultRootObject != want.Config.DefaultRootObject ||
		len(got.Config.Origins) != len(want.Config.Origins) ||
		(len(want.Config.Origins) > 0 && got.Config.Origins[0].DomainName != want.Config.Origins[0].DomainName):
		return fmt.Sprintf("Config %+v, want %+v", got.Config, want.Config)
	}
	return ""
}

// wantDists checks that s holds exactly want, in any order.
func wantDists(t *testing.T, s distribution.Store, want ...distribution.Distribution) {
	t.Helper()
	got, err := s.Distributions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Distributions returned %d, want %d", len(got), len(want))
	}
	byID := map[string]distribution.Distribution{}
	for _, d := range got {
		byID[d.ID] = d
	}
	for _, w := range want {
		g, ok := byID[w.ID]
		if !ok {
			t.Errorf("distribution %s missing", w.ID)
			continue
		}
		if diff := sameDist(g, w); diff != "" {
			t.Errorf("distribution %s: %s", w.ID, diff)
		}
	}
}

func testPutAndList(t *testing.T, s DistributionStore) {
	wantDists(t, s)
	a, b := sampleDist("EPUTLIST00001", 1), sampleDist("EPUTLIST00002", 2)
	for _, d := range []distribution.Distribution{a, b} {
		if err := s.PutDistribution(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	wantDists(t, s, a, b)
}

func testPutReplaces(t *testing.T, s DistributionStore) {
	a := sampleDist("EREPLACE00001", 1)
	if err := s.PutDistribution(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.ETag, a.Status, a.RawConfig = "ESECOND", "InProgress", []byte("<DistributionConfig/>")
	a.Tags = nil
	if err := s.PutDistribution(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantDists(t, s, a)
}

func testDeleteRemovesInvalidations(t *testing.T, s DistributionStore) {
	a, b := sampleDist("EDELETE000001", 1), sampleDist("EDELETE000002", 2)
	for _, d := range []distribution.Distribution{a, b} {
		if err := s.PutDistribution(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	m := &maker{}
	gone := mustCreate(t, s, m.inv(a.ID, "a-1", "/a", "/a/*"))
	kept := mustCreate(t, s, m.inv(b.ID, "b-1", "/b"))
	if err := s.DeleteDistribution(ctx, a.ID); err != nil {
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
	if err := s.PutDistribution(ctx, a); err != nil {
		t.Fatal(err)
	}
	again := mustCreate(t, s, m.inv(a.ID, "a-1", "/a"))
	if again.ID == gone.ID {
		t.Errorf("a distribution created again got back Id %s of its deleted invalidation", gone.ID)
	}
}

func testDeleteUnknown(t *testing.T, s DistributionStore) {
	if err := s.DeleteDistribution(ctx, "ENOSUCHDIST01"); err != nil {
		t.Errorf("DeleteDistribution of an unknown Id: %v (want nil: deleting is idempotent)", err)
	}
	wantDists(t, s)
}

func testDistributionCopies(t *testing.T, s DistributionStore) {
	a := sampleDist("ECOPIES000001", 1)
	put := a
	put.RawConfig = slices.Clone(a.RawConfig)
	put.Tags = slices.Clone(a.Tags)
	if err := s.PutDistribution(ctx, put); err != nil {
		t.Fatal(err)
	}
	put.RawConfig[0] = 'X'
	put.Tags[0].Value = "changed"
	got, err := s.Distributions(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("Distributions = %v, %v", got, err)
	}
	got[0].RawConfig[0] = 'Y'
	got[0].Tags[0].Value = "changed too"
	wantDists(t, s, a)
}

func testConcurrentPuts(t *testing.T, s DistributionStore) {
	var wg sync.WaitGroup
	want := make([]distribution.Distribution, 20)
	errs := make([]error, len(want))
	for i := range want {
		want[i] = sampleDist(fmt.Sprintf("ECONCUR%06d", i), i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.PutDistribution(ctx, want[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("PutDistribution %d: %v", i, err)
		}
	}
	wantDists(t, s, want...)
}
