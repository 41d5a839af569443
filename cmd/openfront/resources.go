package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// openResources starts one resource.Service per kind of the API's
// account-wide resources (policies, origin access controls and
// identities, KeyValueStores, functions) over the control plane's store, stores the managed
// policies and publishes every resource again (resource.Service.Resume).
// Changes reach edges through the fleet's hub.
func (cp *controlPlane) openResources(ctx context.Context, log *slog.Logger) error {
	rules := []resource.Rules{
		cloudfront.PolicyRules(resource.CachePolicy),
		cloudfront.PolicyRules(resource.OriginRequestPolicy),
		cloudfront.PolicyRules(resource.ResponseHeadersPolicy),
		cloudfront.OriginAccessRules(resource.OriginAccessControl),
		cloudfront.OriginAccessRules(resource.OriginAccessIdentity),
		cloudfront.KeyGroupRules(resource.PublicKey),
		cloudfront.KeyGroupRules(resource.KeyGroup),
		cloudfront.KeyValueStoreRules(),
		cloudfront.FunctionRules(),
	}
	managed, err := managedResources()
	if err != nil {
		return err
	}
	cp.resources = nil
	for _, r := range rules {
		svc := resource.NewService(resource.Config{Store: cp.store, Publisher: cp.hub, Rules: r, Logger: log})
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

// resourceKinds are the kinds the API keeps.
var resourceKinds = []resource.Kind{resource.CachePolicy, resource.OriginRequestPolicy, resource.ResponseHeadersPolicy,
	resource.OriginAccessControl, resource.OriginAccessIdentity,
	resource.PublicKey, resource.KeyGroup, resource.KeyValueStore, resource.Function}

// allResources returns every resource the store keeps, for the hub's
// snapshots. A kind the store fails to read is logged and left out.
func (cp *controlPlane) allResources(log *slog.Logger) []resource.Resource {
	var out []resource.Resource
	for _, k := range resourceKinds {
		rs, err := cp.store.Resources(context.Background(), k)
		if err != nil {
			log.Error("reading resources for a snapshot", "kind", k, "err", err)
			continue
		}
		out = append(out, rs...)
	}
	return out
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
