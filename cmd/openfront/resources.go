package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// openResources starts one resource.Service per kind of the API's
// account-wide resources (policies, origin access controls and
// identities) over the control plane's store, stores the managed
// policies and publishes every resource again (resource.Service.Resume).
// Changes reach edges through the fleet's hub once it is a
// resource.Publisher; until then they are not published.
func (cp *controlPlane) openResources(ctx context.Context, log *slog.Logger) error {
	var pub resource.Publisher
	if p, ok := any(cp.hub).(resource.Publisher); ok {
		pub = p
	}
	rules := []resource.Rules{
		cloudfront.PolicyRules(resource.CachePolicy),
		cloudfront.PolicyRules(resource.OriginRequestPolicy),
		cloudfront.PolicyRules(resource.ResponseHeadersPolicy),
		cloudfront.OriginAccessRules(resource.OriginAccessControl),
		cloudfront.OriginAccessRules(resource.OriginAccessIdentity),
	}
	managed, err := managedResources()
	if err != nil {
		return err
	}
	cp.resources = nil
	for _, r := range rules {
		svc := resource.NewService(resource.Config{Store: cp.store, Publisher: pub, Rules: r, Logger: log})
		if r.Kind == resource.OriginAccessControl {
			cp.oacs = svc
		}
		if err := svc.EnsureManaged(ctx, managed[r.Kind]); err != nil {
			return fmt.Errorf("managed %s: %w", r.Kind, err)
		}
		if err := svc.Resume(ctx); err != nil {
			return fmt.Errorf("publishing %s: %w", r.Kind, err)
		}
		cp.resources = append(cp.resources, svc)
	}
	return nil
}

// originAccessControl returns the origin access control with Id id as
// the API keeps it now (false when there is none, or the store fails).
func (cp *controlPlane) originAccessControl(id string) (originaccess.Control, bool) {
	if cp.oacs == nil || id == "" {
		return originaccess.Control{}, false
	}
	r, err := cp.oacs.Get(context.Background(), id)
	if err != nil {
		return originaccess.Control{}, false
	}
	var c originaccess.Control
	if err := json.Unmarshal(r.Config, &c); err != nil {
		return originaccess.Control{}, false
	}
	return c, true
}

// managedResources are AWS's managed policies (internal/policy's
// catalogue) by kind, as documents built from their typed
// configurations, ordered by Id.
func managedResources() (map[resource.Kind][]resource.Resource, error) {
	out := map[resource.Kind][]resource.Resource{}
	add := func(kind resource.Kind, id string, doc *xmlmodel.Element) error {
		r, err := cloudfront.ManagedResource(kind, id, doc)
		if err != nil {
			return fmt.Errorf("managed %s %s: %w", kind, id, err)
		}
		out[kind] = append(out[kind], r)
		return nil
	}
	cache := policy.ManagedCachePolicies()
	for _, id := range slices.Sorted(maps.Keys(cache)) {
		p := cache[id]
		if err := add(resource.CachePolicy, id, cloudfront.CachePolicyDocument(&p)); err != nil {
			return nil, err
		}
	}
	origin := policy.ManagedOriginRequestPolicies()
	for _, id := range slices.Sorted(maps.Keys(origin)) {
		p := origin[id]
		if err := add(resource.OriginRequestPolicy, id, cloudfront.OriginRequestPolicyDocument(&p)); err != nil {
			return nil, err
		}
	}
	headers := policy.ManagedResponseHeadersPolicies()
	for _, id := range slices.Sorted(maps.Keys(headers)) {
		p := headers[id]
		if err := add(resource.ResponseHeadersPolicy, id, cloudfront.ResponseHeadersPolicyDocument(&p)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
