package distribution_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/testutil"
)

var ctx = context.Background()

// manualDeployer deploys when told to: Deploy waits for its release.
type manualDeployer struct{ release chan struct{} }

func (m manualDeployer) Deploy(ctx context.Context, d distribution.Distribution) error {
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newService(t *testing.T, store distribution.Store, refs func(distribution.Config) []resource.Ref) *distribution.Service {
	t.Helper()
	svc, err := distribution.NewService(ctx, distribution.ServiceConfig{
		Store: store, Deployer: manualDeployer{make(chan struct{})}, Refs: refs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

func config(aliases ...string) distribution.Config {
	return distribution.Config{
		Enabled: true, Aliases: aliases,
		Origins:         []distribution.Origin{{ID: "o1", DomainName: "origin.example.com"}},
		DefaultBehavior: distribution.CacheBehavior{TargetOriginID: "o1", DefaultTTL: 60, MaxTTL: 120},
	}
}

func code(err error) string {
	var de *distribution.Error
	if errors.As(err, &de) {
		return de.Code
	}
	return fmt.Sprint(err)
}

// TestServiceStoreErrors: what the store refuses becomes CloudFront's
// error, and a refused write leaves the registry as it was.
func TestServiceStoreErrors(t *testing.T) {
	svc := newService(t, memory.New(), nil)
	a, err := svc.Create(ctx, "ref-a", config("www.example.com"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, "ref-a", config(), nil, nil); code(err) != distribution.CodeDistributionAlreadyExists {
		t.Errorf("Create with a taken CallerReference: %v", err)
	}
	if _, err := svc.Create(ctx, "ref-b", config("WWW.example.com."), nil, nil); code(err) != distribution.CodeCNAMEAlreadyExists {
		t.Errorf("Create with a taken alias: %v", err)
	}
	b, err := svc.Create(ctx, "ref-b", config(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, b.ID, b.ETag, "ref-b", config("www.example.com"), nil); code(err) != distribution.CodeCNAMEAlreadyExists {
		t.Errorf("Update to a taken alias: %v", err)
	}
	if _, err := svc.Update(ctx, b.ID, a.ETag, "ref-b", config(), nil); code(err) != distribution.CodePreconditionFailed {
		t.Errorf("Update with another ETag: %v", err)
	}
	if err := svc.Delete(ctx, b.ID, b.ETag); code(err) != distribution.CodeDistributionNotDisabled {
		t.Errorf("Delete of an enabled distribution: %v", err)
	}
	if got, _ := svc.Get(b.ID); got.ETag != b.ETag || len(got.Config.Aliases) != 0 {
		t.Errorf("after refused writes the registry holds %+v", got)
	}
}

// TestServiceConcurrentIfMatch: updates racing with the same If-Match:
// exactly one succeeds, the others fail PreconditionFailed, and the
// registry holds the winner's version.
func TestServiceConcurrentIfMatch(t *testing.T) {
	svc := newService(t, memory.New(), nil)
	d, err := svc.Create(ctx, "ref", config(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	results := make([]distribution.Distribution, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			cfg := config()
			cfg.Comment = fmt.Sprint("writer ", i)
			results[i], errs[i] = svc.Update(ctx, d.ID, d.ETag, "ref", cfg, nil)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("updates %d and %d both succeeded with one If-Match", winner, i)
		case err == nil:
			winner = i
		case code(err) != distribution.CodePreconditionFailed:
			t.Errorf("update %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no update succeeded")
	}
	got, _ := svc.Get(d.ID)
	if got.ETag != results[winner].ETag || got.Config.Comment != fmt.Sprint("writer ", winner) {
		t.Errorf("registry holds %s %q, want the winner's %s", got.ETag, got.Config.Comment, results[winner].ETag)
	}
}

// TestServiceRefs: the Refs hook's references are checked by the store:
// a missing one is the NoSuch... error of its kind, and a resource a
// distribution names cannot be deleted.
func TestServiceRefs(t *testing.T) {
	store := memory.New()
	refs := func(c distribution.Config) []resource.Ref {
		if id := c.DefaultBehavior.CachePolicyID; id != "" {
			return []resource.Ref{{Kind: resource.CachePolicy, ID: id}}
		}
		return nil
	}
	svc := newService(t, store, refs)
	cfg := config()
	cfg.DefaultBehavior.CachePolicyID = "CP1"
	if _, err := svc.Create(ctx, "ref", cfg, nil, nil); code(err) != distribution.CodeNoSuchCachePolicy {
		t.Fatalf("Create naming a missing cache policy: %v", err)
	}
	if _, err := store.CreateResource(ctx, resource.Resource{Kind: resource.CachePolicy, ID: "CP1", Name: "p"}, nil); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Create(ctx, "ref", cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteResource(ctx, resource.CachePolicy, "CP1", nil); !errors.Is(err, resource.ErrInUse) {
		t.Errorf("DeleteResource of a policy a distribution names: %v", err)
	}
	if _, err := svc.Update(ctx, d.ID, d.ETag, "ref", config(), nil); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteResource(ctx, resource.CachePolicy, "CP1", nil); err != nil {
		t.Errorf("DeleteResource once no distribution names it: %v", err)
	}
}

// TestServiceMarkDeployedAfterChange: a deploy of a version that has
// been replaced since does not mark the new one Deployed.
func TestServiceMarkDeployedAfterChange(t *testing.T) {
	store := memory.New()
	dep := manualDeployer{make(chan struct{})}
	svc, err := distribution.NewService(ctx, distribution.ServiceConfig{Store: store, Deployer: dep})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	d, err := svc.Create(ctx, "ref", config(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := svc.Update(ctx, d.ID, d.ETag, "ref", config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	close(dep.release) // both deploys finish, in any order
	testutil.Eventually(t, 10*time.Second, func() bool {
		got, _ := svc.Get(d.ID)
		stored, err := store.GetDistribution(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ETag != d2.ETag || stored.ETag != d2.ETag {
			t.Fatalf("ETag %s (stored %s), want %s", got.ETag, stored.ETag, d2.ETag)
		}
		return got.Status == distribution.Deployed && stored.Status == distribution.Deployed
	}, "the new version to be Deployed, in the registry and the store")
}
