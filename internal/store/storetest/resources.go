package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
)

// RunResources checks that the stores open returns keep resources as
// resource.Store documents, counting the references of distributions
// too. open must return a new, empty store; RunResources closes what it
// opens.
func RunResources(t *testing.T, open func(t *testing.T) DistributionStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s DistributionStore)
	}{
		{"CreateGetList", testResCreateGetList},
		{"NameTaken", testResNameTaken},
		{"IDTaken", testResIDTaken},
		{"Update", testResUpdate},
		{"UpdateChangeError", testResUpdateChangeError},
		{"UpdateName", testResUpdateName},
		{"UpdateImmutable", testResUpdateImmutable},
		{"UpdateUnknown", testResUpdateUnknown},
		{"DeleteCheck", testResDeleteCheck},
		{"InUse", testResInUse},
		{"MissingRef", testResMissingRef},
		{"Copies", testResCopies},
		{"RacingName", testResRacingName},
		{"RacingCompareAndSwap", testResRacingCAS},
		{"RacingDeleteAndRefer", testResRacingDeleteAndRefer},
		{"Quota", testResQuota},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// RunResourcesDurable checks that resources, and the rules their indexes
// enforce, survive Close and a new open of the same directory.
func RunResourcesDurable(t *testing.T, open func(t *testing.T, dir string) DistributionStore) {
	t.Helper()
	t.Run("ReopenResources", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		a := sampleRes(resource.CachePolicy, "CPDURABLE1", "one")
		a.Managed = true
		b := sampleRes(resource.CachePolicy, "CPDURABLE2", "two")
		c := sampleRes(resource.ResponseHeadersPolicy, "RHDURABLE1", "three")
		c.Refs = []resource.Ref{{Kind: resource.CachePolicy, ID: a.ID}}
		gone := sampleRes(resource.OriginAccessControl, "OACGONE", "gone")
		for _, r := range []resource.Resource{a, b, c, gone} {
			mustCreateRes(t, s, r)
		}
		b2, err := s.UpdateResource(ctx, b.Kind, b.ID, func(r *resource.Resource) error {
			r.Name, r.ETag, r.Config = "two renamed", "ETWO2", []byte(`{"v":2}`)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteResource(ctx, gone.Kind, gone.ID, nil); err != nil {
			t.Fatal(err)
		}
		d := sampleDist("ERESDURABLE01", 1)
		d.Refs = []resource.Ref{{Kind: resource.CachePolicy, ID: b.ID}}
		mustCreateDist(t, s, d)
		winner := raceName(t, s)
		cas := raceResCAS(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		t.Cleanup(func() { s.Close() })
		wantRes(t, s, resource.CachePolicy, a, b2, cas)
		wantRes(t, s, resource.ResponseHeadersPolicy, c)
		wantRes(t, s, resource.OriginAccessControl, winner)
		// The indexes are back too: names...
		x := sampleRes(resource.CachePolicy, "CPDURABLE9", "two renamed")
		wantResErr(t, s, x, resource.ErrNameTaken)
		x.Name = "two" // given up by the rename
		mustCreateRes(t, s, x)
		// ...and references, of resources and of distributions.
		for _, id := range []string{a.ID, b.ID} {
			if err := s.DeleteResource(ctx, resource.CachePolicy, id, nil); !errors.Is(err, resource.ErrInUse) {
				t.Errorf("DeleteResource(%s) of a policy in use, after reopening: %v, want ErrInUse", id, err)
			}
		}
	})
}

// sampleRes is a resource with every stored field set.
func sampleRes(kind resource.Kind, id, name string) resource.Resource {
	return resource.Resource{
		Kind: kind, ID: id, Name: name, ETag: "E" + id,
		LastModified: base.Add(time.Duration(len(id)) * time.Second),
		Config:       []byte(`{"name":"` + name + `"}`),
		Raw:          []byte("<Config><Name>" + name + "</Name></Config>"),
	}
}

// sameRes says how got differs from want, or "".
func sameRes(got, want resource.Resource) string {
	switch {
	case got.Kind != want.Kind || got.ID != want.ID || got.Name != want.Name || got.ETag != want.ETag || got.Managed != want.Managed:
		return fmt.Sprintf("%s %s %q %s managed %v, want %s %s %q %s managed %v", got.Kind, got.ID, got.Name, got.ETag, got.Managed,
			want.Kind, want.ID, want.Name, want.ETag, want.Managed)
	case !got.LastModified.Equal(want.LastModified):
		return fmt.Sprintf("LastModified %v, want %v", got.LastModified, want.LastModified)
	case !bytes.Equal(got.Config, want.Config):
		return fmt.Sprintf("Config %q, want %q", got.Config, want.Config)
	case !bytes.Equal(got.Raw, want.Raw):
		return fmt.Sprintf("Raw %q, want %q", got.Raw, want.Raw)
	case !slices.Equal(got.Refs, want.Refs):
		return fmt.Sprintf("Refs %v, want %v", got.Refs, want.Refs)
	}
	return ""
}

func resIDs(rs []resource.Resource) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// wantRes checks that s holds exactly want of kind, listed in order of
// Id, and that GetResource returns each.
func wantRes(t *testing.T, s resource.Store, kind resource.Kind, want ...resource.Resource) {
	t.Helper()
	got, err := s.Resources(ctx, kind)
	if err != nil {
		t.Fatal(err)
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b resource.Resource) int { return cmpString(a.ID, b.ID) })
	if !slices.Equal(resIDs(got), resIDs(want)) {
		t.Fatalf("Resources(%s) listed %v, want %v", kind, resIDs(got), resIDs(want))
	}
	for i, w := range want {
		if diff := sameRes(got[i], w); diff != "" {
			t.Errorf("%s %s listed: %s", kind, w.ID, diff)
		}
		g, err := s.GetResource(ctx, kind, w.ID)
		if err != nil {
			t.Errorf("GetResource(%s, %s): %v", kind, w.ID, err)
			continue
		}
		if diff := sameRes(g, w); diff != "" {
			t.Errorf("GetResource(%s, %s): %s", kind, w.ID, diff)
		}
	}
}

func mustCreateRes(t *testing.T, s resource.Store, r resource.Resource) {
	t.Helper()
	if _, err := s.CreateResource(ctx, r, nil); err != nil {
		t.Fatalf("CreateResource(%s %s): %v", r.Kind, r.ID, err)
	}
}

// wantResErr checks that creating r fails with want and writes nothing;
// it returns the resource CreateResource returned.
func wantResErr(t *testing.T, s resource.Store, r resource.Resource, want error) resource.Resource {
	t.Helper()
	before, err := s.Resources(ctx, r.Kind)
	if err != nil {
		t.Fatal(err)
	}
	existing, err := s.CreateResource(ctx, r, nil)
	if !errors.Is(err, want) {
		t.Fatalf("CreateResource(%s %s %q) = %v, want %v", r.Kind, r.ID, r.Name, err, want)
	}
	wantRes(t, s, r.Kind, before...)
	return existing
}

func testResCreateGetList(t *testing.T, s DistributionStore) {
	wantRes(t, s, resource.CachePolicy)
	a, b := sampleRes(resource.CachePolicy, "CP2", "b"), sampleRes(resource.CachePolicy, "CP1", "a")
	c := sampleRes(resource.OriginRequestPolicy, "ORP1", "c")
	for _, r := range []resource.Resource{a, b, c} {
		mustCreateRes(t, s, r)
	}
	wantRes(t, s, resource.CachePolicy, a, b)
	wantRes(t, s, resource.OriginRequestPolicy, c)
	wantRes(t, s, resource.OriginAccessControl)
	if _, err := s.GetResource(ctx, resource.CachePolicy, "CP3"); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("GetResource of an unknown Id: %v, want ErrNotFound", err)
	}
	if _, err := s.GetResource(ctx, resource.OriginRequestPolicy, "CP1"); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("GetResource of another kind's Id: %v, want ErrNotFound", err)
	}
}

func testResNameTaken(t *testing.T, s DistributionStore) {
	a := sampleRes(resource.CachePolicy, "CPNAME1", "shared name")
	mustCreateRes(t, s, a)
	existing := wantResErr(t, s, sampleRes(resource.CachePolicy, "CPNAME2", "shared name"), resource.ErrNameTaken)
	if diff := sameRes(existing, a); diff != "" {
		t.Errorf("CreateResource with a taken name returned %s", diff)
	}
	// Names are unique per kind only, and compared exactly.
	b := sampleRes(resource.OriginRequestPolicy, "ORPNAME1", "shared name")
	c := sampleRes(resource.CachePolicy, "CPNAME3", "Shared Name")
	mustCreateRes(t, s, b)
	mustCreateRes(t, s, c)
	wantRes(t, s, resource.CachePolicy, a, c)
	wantRes(t, s, resource.OriginRequestPolicy, b)
	// Deleting a frees its name.
	if err := s.DeleteResource(ctx, a.Kind, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	mustCreateRes(t, s, sampleRes(resource.CachePolicy, "CPNAME2", "shared name"))
}

func testResIDTaken(t *testing.T, s DistributionStore) {
	a := sampleRes(resource.CachePolicy, "CPID1", "a")
	mustCreateRes(t, s, a)
	existing := wantResErr(t, s, sampleRes(resource.CachePolicy, "CPID1", "another"), resource.ErrIDTaken)
	if diff := sameRes(existing, a); diff != "" {
		t.Errorf("CreateResource with a taken Id returned %s", diff)
	}
	// Ids are unique per kind.
	b := sampleRes(resource.OriginAccessControl, "CPID1", "a")
	mustCreateRes(t, s, b)
	wantRes(t, s, resource.CachePolicy, a)
	wantRes(t, s, resource.OriginAccessControl, b)
}

func testResUpdate(t *testing.T, s DistributionStore) {
	a := sampleRes(resource.CachePolicy, "CPUPDATE", "a")
	mustCreateRes(t, s, a)
	calls := 0
	got, err := s.UpdateResource(ctx, a.Kind, a.ID, func(r *resource.Resource) error {
		calls++
		if diff := sameRes(*r, a); diff != "" {
			t.Errorf("change got %s", diff)
		}
		r.ETag, r.Config, r.Raw = "ESECOND", []byte(`{"v":2}`), []byte("<v2/>")
		r.LastModified = base.Add(time.Hour)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("change was not called")
	}
	want := a
	want.ETag, want.Config, want.Raw, want.LastModified = "ESECOND", []byte(`{"v":2}`), []byte("<v2/>"), base.Add(time.Hour)
	if diff := sameRes(got, want); diff != "" {
		t.Errorf("UpdateResource returned %s", diff)
	}
	wantRes(t, s, a.Kind, want)
}

func testResUpdateChangeError(t *testing.T, s DistributionStore) {
	a := sampleRes(resource.CachePolicy, "CPCHANGEERR", "a")
	mustCreateRes(t, s, a)
	_, err := s.UpdateResource(ctx, a.Kind, a.ID, func(r *resource.Resource) error {
		r.Name, r.ETag = "lost", "ELOST"
		r.Config[0] = 'X'
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("UpdateResource whose change fails = %v, want the change's error", err)
	}
	wantRes(t, s, a.Kind, a)
	mustCreateRes(t, s, sampleRes(a.Kind, "CPOTHER", "lost")) // the name is free
}

func testResUpdateName(t *testing.T, s DistributionStore) {
	a, b := sampleRes(resource.CachePolicy, "CPRENAME1", "a"), sampleRes(resource.CachePolicy, "CPRENAME2", "b")
	mustCreateRes(t, s, a)
	mustCreateRes(t, s, b)
	_, err := s.UpdateResource(ctx, b.Kind, b.ID, func(r *resource.Resource) error {
		r.Name, r.ETag = "a", "ETAKES"
		return nil
	})
	if !errors.Is(err, resource.ErrNameTaken) {
		t.Fatalf("UpdateResource taking another's name = %v, want ErrNameTaken", err)
	}
	wantRes(t, s, a.Kind, a, b)
	// Keeping its own name is no conflict; a free one is taken, and the
	// old one freed.
	if _, err := s.UpdateResource(ctx, a.Kind, a.ID, func(r *resource.Resource) error { r.ETag = "EKEEPS"; return nil }); err != nil {
		t.Fatalf("UpdateResource keeping its name: %v", err)
	}
	b2, err := s.UpdateResource(ctx, b.Kind, b.ID, func(r *resource.Resource) error { r.Name = "c"; return nil })
	if err != nil {
		t.Fatalf("UpdateResource to a free name: %v", err)
	}
	if b2.Name != "c" {
		t.Errorf("renamed to %q, want c", b2.Name)
	}
	wantResErr(t, s, sampleRes(b.Kind, "CPRENAME3", "c"), resource.ErrNameTaken)
	mustCreateRes(t, s, sampleRes(b.Kind, "CPRENAME3", "b"))
}

func testResUpdateImmutable(t *testing.T, s DistributionStore) {
	a := sampleRes(resource.CachePolicy, "CPIMMUTABLE", "a")
	mustCreateRes(t, s, a)
	for name, change := range map[string]func(r *resource.Resource){
		"Id":   func(r *resource.Resource) { r.ID = "CPIMMUTABLE2" },
		"Kind": func(r *resource.Resource) { r.Kind = resource.OriginRequestPolicy },
	} {
		_, err := s.UpdateResource(ctx, a.Kind, a.ID, func(r *resource.Resource) error {
			change(r)
			r.ETag = "ECHANGED"
			return nil
		})
		if err == nil {
			t.Errorf("UpdateResource changing the %s succeeded", name)
		}
		wantRes(t, s, a.Kind, a)
		wantRes(t, s, resource.OriginRequestPolicy)
	}
}

func testResUpdateUnknown(t *testing.T, s DistributionStore) {
	mustCreateRes(t, s, sampleRes(resource.CachePolicy, "CPKNOWN", "a"))
	for _, key := range []resource.Ref{{Kind: resource.CachePolicy, ID: "CPUNKNOWN"}, {Kind: resource.OriginRequestPolicy, ID: "CPKNOWN"}} {
		_, err := s.UpdateResource(ctx, key.Kind, key.ID, func(r *resource.Resource) error {
			t.Error("change called for an unknown resource")
			return nil
		})
		if !errors.Is(err, resource.ErrNotFound) {
			t.Errorf("UpdateResource(%v): %v, want ErrNotFound", key, err)
		}
		err = s.DeleteResource(ctx, key.Kind, key.ID, func(resource.Resource) error {
			t.Error("check called for an unknown resource")
			return nil
		})
		if !errors.Is(err, resource.ErrNotFound) {
			t.Errorf("DeleteResource(%v): %v, want ErrNotFound", key, err)
		}
	}
}

func testResDeleteCheck(t *testing.T, s DistributionStore) {
	a := sampleRes(resource.OriginAccessControl, "OACDEL", "a")
	mustCreateRes(t, s, a)
	err := s.DeleteResource(ctx, a.Kind, a.ID, func(r resource.Resource) error {
		if diff := sameRes(r, a); diff != "" {
			t.Errorf("check got %s", diff)
		}
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("DeleteResource whose check fails = %v, want the check's error", err)
	}
	wantRes(t, s, a.Kind, a)
	checked := false
	if err := s.DeleteResource(ctx, a.Kind, a.ID, func(resource.Resource) error { checked = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Error("check was not called")
	}
	wantRes(t, s, a.Kind)
	if _, err := s.GetResource(ctx, a.Kind, a.ID); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("GetResource after deleting: %v, want ErrNotFound", err)
	}
}

func testResInUse(t *testing.T, s DistributionStore) {
	cp := sampleRes(resource.CachePolicy, "CPINUSE", "cp")
	rh := sampleRes(resource.ResponseHeadersPolicy, "RHINUSE", "rh")
	rh.Refs = []resource.Ref{{Kind: cp.Kind, ID: cp.ID}}
	oac := sampleRes(resource.OriginAccessControl, "OACINUSE", "oac")
	mustCreateRes(t, s, cp)
	mustCreateRes(t, s, rh)
	mustCreateRes(t, s, oac)
	d := sampleDist("EINUSE0000001", 1)
	d.Refs = []resource.Ref{{Kind: oac.Kind, ID: oac.ID}, {Kind: rh.Kind, ID: rh.ID}}
	mustCreateDist(t, s, d)
	for _, r := range []resource.Resource{cp, rh, oac} {
		if err := s.DeleteResource(ctx, r.Kind, r.ID, nil); !errors.Is(err, resource.ErrInUse) {
			t.Errorf("DeleteResource(%s) in use: %v, want ErrInUse", r.ID, err)
		}
	}
	wantRes(t, s, cp.Kind, cp)
	wantRes(t, s, rh.Kind, rh)
	wantRes(t, s, oac.Kind, oac)
	// A distribution that stops naming one frees it.
	if _, err := s.UpdateDistribution(ctx, d.ID, func(d *distribution.Distribution) error {
		d.Refs = d.Refs[1:]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResource(ctx, oac.Kind, oac.ID, nil); err != nil {
		t.Errorf("DeleteResource no longer in use: %v", err)
	}
	// So does a resource that stops naming one...
	if _, err := s.UpdateResource(ctx, rh.Kind, rh.ID, func(r *resource.Resource) error { r.Refs = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResource(ctx, cp.Kind, cp.ID, nil); err != nil {
		t.Errorf("DeleteResource no longer in use: %v", err)
	}
	// ...and a deleted distribution.
	if err := s.DeleteResource(ctx, rh.Kind, rh.ID, nil); !errors.Is(err, resource.ErrInUse) {
		t.Errorf("DeleteResource(%s) in use: %v, want ErrInUse", rh.ID, err)
	}
	if err := s.DeleteDistribution(ctx, d.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResource(ctx, rh.Kind, rh.ID, nil); err != nil {
		t.Errorf("DeleteResource once its distribution is deleted: %v", err)
	}
	wantRes(t, s, rh.Kind)
}

func testResMissingRef(t *testing.T, s DistributionStore) {
	ref := resource.Ref{Kind: resource.CachePolicy, ID: "CPMISSING"}
	rh := sampleRes(resource.ResponseHeadersPolicy, "RHMISSING", "rh")
	rh.Refs = []resource.Ref{ref}
	var missing *resource.MissingRefError
	if _, err := s.CreateResource(ctx, rh, nil); !errors.As(err, &missing) || missing.Ref != ref {
		t.Fatalf("CreateResource naming a missing resource = %v, want a MissingRefError for %v", err, ref)
	}
	wantRes(t, s, rh.Kind)
	rh.Refs = nil
	mustCreateRes(t, s, rh)
	_, err := s.UpdateResource(ctx, rh.Kind, rh.ID, func(r *resource.Resource) error {
		r.Refs = []resource.Ref{ref}
		return nil
	})
	if !errors.As(err, &missing) || missing.Ref != ref {
		t.Fatalf("UpdateResource naming a missing resource = %v, want a MissingRefError for %v", err, ref)
	}
	wantRes(t, s, rh.Kind, rh)
	mustCreateRes(t, s, sampleRes(ref.Kind, ref.ID, "now there"))
	if _, err := s.UpdateResource(ctx, rh.Kind, rh.ID, func(r *resource.Resource) error {
		r.Refs = []resource.Ref{ref}
		return nil
	}); err != nil {
		t.Fatalf("UpdateResource naming an existing resource: %v", err)
	}
}

func testResCopies(t *testing.T, s DistributionStore) {
	mustCreateRes(t, s, sampleRes(resource.CachePolicy, "CPCOPIED", "target"))
	a := sampleRes(resource.OriginRequestPolicy, "ORPCOPIES", "a")
	a.Refs = []resource.Ref{{Kind: resource.CachePolicy, ID: "CPCOPIED"}}
	put := a.Clone()
	mustCreateRes(t, s, put)
	put.Config[0], put.Raw[0], put.Refs[0].ID = 'X', 'X', "changed"
	got, err := s.Resources(ctx, a.Kind)
	if err != nil || len(got) != 1 {
		t.Fatalf("Resources = %v, %v", got, err)
	}
	got[0].Config[0], got[0].Raw[0], got[0].Refs[0].ID = 'Y', 'Y', "changed too"
	one, err := s.GetResource(ctx, a.Kind, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	one.Config[0], one.Raw[0] = 'Z', 'Z'
	var kept *resource.Resource
	up, err := s.UpdateResource(ctx, a.Kind, a.ID, func(r *resource.Resource) error { kept = r; return nil })
	if err != nil {
		t.Fatal(err)
	}
	up.Config[0], up.Refs[0].ID = 'W', "changed again"
	kept.Config[0], kept.Raw[0], kept.Refs[0].ID = 'V', 'V', "changed by change"
	wantRes(t, s, a.Kind, a)
}

// raceName has racers create origin access controls with one name and
// returns the one that must win.
func raceName(t *testing.T, s DistributionStore) resource.Resource {
	t.Helper()
	rs := make([]resource.Resource, racers)
	for i := range rs {
		rs[i] = sampleRes(resource.OriginAccessControl, fmt.Sprintf("OACRACE%03d", i), "same name")
	}
	existing := make([]resource.Resource, racers)
	w := oneWinner(t, race(func(i int) error {
		var err error
		existing[i], err = s.CreateResource(ctx, rs[i], nil)
		return err
	}), resource.ErrNameTaken)
	for i, e := range existing {
		if i != w && e.ID != rs[w].ID {
			t.Errorf("racer %d was told %q holds the name, not the winner %q", i, e.ID, rs[w].ID)
		}
	}
	wantRes(t, s, resource.OriginAccessControl, rs[w])
	return rs[w]
}

func testResRacingName(t *testing.T, s DistributionStore) { raceName(t, s) }

// raceResCAS has racers update one cache policy by compare-and-swap, each
// until it succeeds, and checks that no update is lost; it returns the
// policy as it must be stored.
func raceResCAS(t *testing.T, s DistributionStore) resource.Resource {
	t.Helper()
	a := sampleRes(resource.CachePolicy, "CPRACECAS", "cas")
	a.Config = nil
	mustCreateRes(t, s, a)
	replaced := make([]string, racers)
	errConflict := errors.New("ETag changed since read")
	errs := race(func(i int) error {
		for attempt := 0; attempt < 100*racers; attempt++ {
			cur, err := s.GetResource(ctx, a.Kind, a.ID)
			if err != nil {
				return err
			}
			_, err = s.UpdateResource(ctx, a.Kind, a.ID, func(r *resource.Resource) error {
				if r.ETag != cur.ETag {
					return errConflict
				}
				// Let the other racers run: a store that runs change
				// outside its write would lose updates meanwhile.
				runtime.Gosched()
				r.ETag = fmt.Sprintf("ERACER%03d", i)
				r.Config = fmt.Appendf(r.Config, "%s>%s;", cur.ETag, r.ETag)
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
	got, err := s.GetResource(ctx, a.Kind, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]bool{}
	for _, e := range replaced {
		versions[e] = true
	}
	steps := bytes.Split(bytes.TrimSuffix(got.Config, []byte(";")), []byte(";"))
	if len(versions) != racers || len(steps) != racers {
		t.Fatalf("%d updates succeeded, replacing %d distinct versions; %d of them are stored", racers, len(versions), len(steps))
	}
	e := a.ETag
	for _, step := range steps {
		from, to, _ := bytes.Cut(step, []byte(">"))
		if string(from) != e {
			t.Fatalf("an update replaced version %s, want %s", from, e)
		}
		e = string(to)
	}
	if got.ETag != e {
		t.Errorf("ETag %s, want %s (the last update's)", got.ETag, e)
	}
	return got
}

func testResRacingCAS(t *testing.T, s DistributionStore) { raceResCAS(t, s) }

// testResRacingDeleteAndRefer: distributions naming a policy are created
// while it is deleted: either the deletion fails (ErrInUse) or every
// create after it does (MissingRefError); never is a distribution left
// naming a deleted policy.
func testResRacingDeleteAndRefer(t *testing.T, s DistributionStore) {
	for round := range 5 {
		cp := sampleRes(resource.CachePolicy, fmt.Sprintf("CPRACEDEL%d", round), fmt.Sprint("race-", round))
		mustCreateRes(t, s, cp)
		ref := resource.Ref{Kind: cp.Kind, ID: cp.ID}
		var delErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			delErr = s.DeleteResource(ctx, cp.Kind, cp.ID, nil)
		})
		created := make([]bool, racers)
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() {
				<-start
				d := sampleDist(fmt.Sprintf("ERACEDEL%d%04d", round, i), round*1000+i)
				d.Refs = []resource.Ref{ref}
				errs[i] = s.CreateDistribution(ctx, d)
				created[i] = errs[i] == nil
			})
		}
		close(start)
		wg.Wait()
		n := 0
		for i, err := range errs {
			var missing *resource.MissingRefError
			switch {
			case err == nil:
				n++
			case !errors.As(err, &missing):
				t.Errorf("round %d, racer %d: %v, want nil or a MissingRefError", round, i, err)
			}
		}
		switch {
		case delErr == nil && n > 0:
			t.Fatalf("round %d: the policy was deleted and %d distributions naming it were created", round, n)
		case delErr != nil && !errors.Is(delErr, resource.ErrInUse):
			t.Fatalf("round %d: DeleteResource: %v", round, delErr)
		case delErr != nil && n == 0:
			t.Fatalf("round %d: DeleteResource said in use, but no distribution names the policy", round)
		}
		// Clean up for the next round.
		for i, ok := range created {
			if ok {
				if err := s.DeleteDistribution(ctx, fmt.Sprintf("ERACEDEL%d%04d", round, i), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// testResQuota has racers create resources of one kind under a quota
// that admit enforces: exactly the quota's worth are created, managed
// resources and other kinds do not count, and admit's error is returned.
func testResQuota(t *testing.T, s DistributionStore) {
	const quota = 5
	m := sampleRes(resource.CachePolicy, "CPMANAGED", "managed")
	m.Managed = true
	mustCreateRes(t, s, m)
	mustCreateRes(t, s, sampleRes(resource.OriginRequestPolicy, "ORPOTHER", "other kind"))
	errQuota := errors.New("too many")
	admit := func(n int) error {
		if n >= quota {
			return errQuota
		}
		return nil
	}
	errs := race(func(i int) error {
		_, err := s.CreateResource(ctx, sampleRes(resource.CachePolicy, fmt.Sprintf("CPQUOTA%03d", i), fmt.Sprintf("quota %d", i)), admit)
		return err
	})
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, errQuota):
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if created != quota {
		t.Fatalf("%d racers created a resource under a quota of %d", created, quota)
	}
	all, err := s.Resources(ctx, resource.CachePolicy)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != quota+1 {
		t.Fatalf("%d cache policies stored, want %d and the managed one", len(all), quota)
	}
	// Deleting one makes room for one more.
	if err := s.DeleteResource(ctx, resource.CachePolicy, all[len(all)-1].ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateResource(ctx, sampleRes(resource.CachePolicy, "CPQUOTAMORE", "more"), admit); err != nil {
		t.Fatalf("after deleting one: %v", err)
	}
}
