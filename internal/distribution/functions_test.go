package distribution_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/function"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

// TestServiceFunctionAssociations: a behavior's function associations
// name functions the store knows, published (a LIVE stage), on viewer
// events, one per event type; a function a distribution associates cannot
// be deleted.
func TestServiceFunctionAssociations(t *testing.T) {
	store := memory.New()
	svc, err := distribution.NewService(ctx, distribution.ServiceConfig{
		Store: store, Deployer: manualDeployer{make(chan struct{})},
		Refs: distribution.RefsOf, Check: distribution.FunctionsLive(store),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	arn := function.ARN("000000000000", "fn1")
	with := func(as ...distribution.FunctionAssociation) distribution.Config {
		c := config()
		c.DefaultBehavior.FunctionAssociations = as
		return c
	}
	viewerReq := distribution.FunctionAssociation{EventType: function.ViewerRequest, FunctionARN: arn}

	if _, err := svc.Create(ctx, "r1", with(viewerReq), nil, nil); code(err) != distribution.CodeInvalidFunctionAssociation {
		t.Fatalf("Create naming a missing function: %v", err)
	}
	fn := function.Function{Name: "fn1", Created: time.Now(), Development: function.Code{Runtime: function.RuntimeJS2, Code: []byte("x"), ETag: "E1"}}
	if _, err := store.CreateResource(ctx, resource.Resource{Kind: resource.Function, ID: "fn1", Name: "fn1", ETag: "E1", Config: fn.Encode()}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, "r1", with(viewerReq), nil, nil); code(err) != distribution.CodeInvalidFunctionAssociation {
		t.Fatalf("Create naming an unpublished function: %v", err)
	}
	for name, c := range map[string]distribution.Config{
		"origin-request": with(distribution.FunctionAssociation{EventType: "origin-request", FunctionARN: arn}),
		"twice":          with(viewerReq, viewerReq),
		"not an ARN":     with(distribution.FunctionAssociation{EventType: function.ViewerRequest, FunctionARN: "fn1"}),
	} {
		if _, err := svc.Create(ctx, "r-"+name, c, nil, nil); code(err) != distribution.CodeInvalidFunctionAssociation {
			t.Errorf("%s: %v, want InvalidFunctionAssociation", name, err)
		}
	}
	live := fn.Development
	fn.Live = &live
	if _, err := store.UpdateResource(ctx, resource.Function, "fn1", func(r *resource.Resource) error { r.Config = fn.Encode(); return nil }); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Create(ctx, "r1", with(viewerReq, distribution.FunctionAssociation{EventType: function.ViewerResponse, FunctionARN: arn}), nil, nil)
	if err != nil {
		t.Fatalf("Create naming a published function: %v", err)
	}
	if err := store.DeleteResource(ctx, resource.Function, "fn1", nil); !errors.Is(err, resource.ErrInUse) {
		t.Errorf("deleting an associated function: %v, want ErrInUse", err)
	}
	if _, err := svc.Update(ctx, d.ID, d.ETag, "r1", config(), nil); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteResource(ctx, resource.Function, "fn1", nil); err != nil {
		t.Errorf("deleting a function no distribution associates: %v", err)
	}
}
