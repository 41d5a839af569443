package cloudfront

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// ResourceLookup finds a stored policy or origin access control, or
// answers resource.ErrNotFound; resource.Store implements it.
type ResourceLookup interface {
	GetResource(ctx context.Context, kind resource.Kind, id string) (resource.Resource, error)
}

// byPolicy is one of the ListDistributionsBy…Id operations: the
// distributions whose cache behaviors name a policy.
type byPolicy struct {
	op      Operation
	action  string // IAM action and operation name
	path    string // the route, with the Id's path parameter
	param   string // the path parameter
	kind    resource.Kind
	managed func(id string) bool
	// noSuch is CloudFront's error for an Id that names no policy.
	noSuch, noSuchMessage string
}

// byPolicyOps are the ListDistributionsBy… operations over policies.
// The service model has no such operation for origin access controls.
var byPolicyOps = []byPolicy{
	{OpListDistributionsByCachePolicyID, "ListDistributionsByCachePolicyId",
		"/2020-05-31/distributionsByCachePolicyId/{CachePolicyId}", "CachePolicyId", resource.CachePolicy,
		func(id string) bool { _, ok := policy.ManagedCachePolicy(id); return ok },
		distribution.CodeNoSuchCachePolicy, "The cache policy does not exist."},
	{OpListDistributionsByOriginRequestPolicyID, "ListDistributionsByOriginRequestPolicyId",
		"/2020-05-31/distributionsByOriginRequestPolicyId/{OriginRequestPolicyId}", "OriginRequestPolicyId", resource.OriginRequestPolicy,
		func(id string) bool { _, ok := policy.ManagedOriginRequestPolicy(id); return ok },
		distribution.CodeNoSuchOriginRequestPolicy, "The origin request policy does not exist."},
	{OpListDistributionsByResponseHeadersPolicyID, "ListDistributionsByResponseHeadersPolicyId",
		"/2020-05-31/distributionsByResponseHeadersPolicyId/{ResponseHeadersPolicyId}", "ResponseHeadersPolicyId", resource.ResponseHeadersPolicy,
		func(id string) bool { _, ok := policy.ManagedResponseHeadersPolicy(id); return ok },
		distribution.CodeNoSuchResponseHeadersPolicy, "The response headers policy does not exist."},
}

// routeByPolicy registers the ListDistributionsBy… operations over
// policies. lookup finds the policies that are not managed; with none,
// only managed policies are known.
func (h *Handler) routeByPolicy(m *http.ServeMux, lookup ResourceLookup) {
	for _, op := range byPolicyOps {
		h.route(m, "GET "+op.path, op.op, h.listByPolicy(op, lookup))
		m.HandleFunc(op.path, methodNotAllowed("GET"))
	}
}

// listByPolicy answers a ListDistributionsBy…Id: a DistributionIdList of
// the distributions, ordered by Id, that name the policy in their
// default or any other cache behavior, MaxItems (default 100, at most
// 1000) after Marker.
func (h *Handler) listByPolicy(op byPolicy, lookup ResourceLookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.authorize(r, op.action, ""); err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		maxItems, err := parseMaxItems(r)
		if err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		id := r.PathValue(op.param)
		if ok, err := op.exists(r.Context(), lookup, id); err != nil || !ok {
			if err == nil {
				err = &apiError{http.StatusNotFound, op.noSuch, op.noSuchMessage}
			}
			h.fail(w, r, requestID(r), err)
			return
		}
		marker := r.URL.Query().Get("Marker")
		var ids []string
		next := ""
		for _, d := range h.dists.Registry().All() {
			if marker != "" && d.ID <= marker || !names(d.Config, op.kind, id) {
				continue
			}
			if len(ids) == maxItems {
				next = ids[len(ids)-1]
				break
			}
			ids = append(ids, d.ID)
		}
		n, p := xmlmodel.New, xmlmodel.NewParent
		list := listHead("DistributionIdList", marker, next, maxItems, len(ids))
		if len(ids) > 0 {
			items := p("Items")
			for _, id := range ids {
				items.Children = append(items.Children, n("DistributionId", id))
			}
			list.Children = append(list.Children, items)
		}
		var b strings.Builder
		b.WriteString(xmlHeader)
		xmlmodel.Encode(&b, list, true)
		writeXML(w, http.StatusOK, b.String())
	}
}

// exists reports whether id names a policy of op's kind: a managed one,
// or one lookup finds.
func (op byPolicy) exists(ctx context.Context, lookup ResourceLookup, id string) (bool, error) {
	if op.managed(id) {
		return true, nil
	}
	if lookup == nil {
		return false, nil
	}
	_, err := lookup.GetResource(ctx, op.kind, id)
	switch {
	case errors.Is(err, resource.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// names reports whether c refers to the resource of kind with Id id.
func names(c distribution.Config, kind resource.Kind, id string) bool {
	for _, ref := range distribution.RefsOf(c) {
		if ref.Kind == kind && ref.ID == id {
			return true
		}
	}
	return false
}
