package distribution

import (
	"context"
	"errors"

	"github.com/openfront/openfront/internal/function"
	"github.com/openfront/openfront/internal/resource"
)

// RefsOf returns the resources c names, each once: the cache, origin
// request and response headers policies, the trusted key groups and the
// functions of its cache behaviors (the default one first, then the others
// in order) and the origin access controls of its origins. Managed policies are stored resources like any
// other, so they are refs too. It is what ServiceConfig.Refs should be.
func RefsOf(c Config) []resource.Ref {
	var refs []resource.Ref
	seen := map[resource.Ref]bool{}
	add := func(kind resource.Kind, id string) {
		r := resource.Ref{Kind: kind, ID: id}
		if id == "" || seen[r] {
			return
		}
		seen[r] = true
		refs = append(refs, r)
	}
	for _, b := range append([]CacheBehavior{c.DefaultBehavior}, c.Behaviors...) {
		add(resource.CachePolicy, b.CachePolicyID)
		add(resource.OriginRequestPolicy, b.OriginRequestPolicyID)
		add(resource.ResponseHeadersPolicy, b.ResponseHeadersPolicyID)
		for _, g := range b.TrustedKeyGroups {
			add(resource.KeyGroup, g)
		}
		for _, a := range b.FunctionAssociations {
			if name, ok := function.NameFromARN(a.FunctionARN); ok {
				add(resource.Function, name)
			}
		}
	}
	for _, o := range c.Origins {
		add(resource.OriginAccessControl, o.OriginAccessControlID)
	}
	return refs
}

// CloudFront's error codes for a distribution naming a resource that does
// not exist.
const (
	CodeNoSuchCachePolicy           = "NoSuchCachePolicy"
	CodeNoSuchOriginRequestPolicy   = "NoSuchOriginRequestPolicy"
	CodeNoSuchResponseHeadersPolicy = "NoSuchResponseHeadersPolicy"
	CodeInvalidOriginAccessControl  = "InvalidOriginAccessControl"
	CodeInvalidOriginAccessIdentity = "InvalidOriginAccessIdentity"
	CodeTrustedKeyGroupDoesNotExist = "TrustedKeyGroupDoesNotExist"
	CodeInvalidFunctionAssociation  = "InvalidFunctionAssociation"
)

// codeForMissing returns the error code and message CloudFront answers a
// create or update of a distribution that names a resource of kind that
// does not exist (a store's *resource.MissingRefError). The policies'
// codes and messages are the service model's (CreateDistribution's
// errors, their documentation as message); an unknown origin access
// control has no NoSuch code among CreateDistribution's errors, so it is
// InvalidOriginAccessControl (docs/compatibility.md: unconfirmed); nor
// has a function (NoSuchFunctionExists is not among them), so it is
// InvalidFunctionAssociation.
func codeForMissing(kind resource.Kind) (code, message string) {
	switch kind {
	case resource.CachePolicy:
		return CodeNoSuchCachePolicy, "The cache policy does not exist."
	case resource.OriginRequestPolicy:
		return CodeNoSuchOriginRequestPolicy, "The origin request policy does not exist."
	case resource.ResponseHeadersPolicy:
		return CodeNoSuchResponseHeadersPolicy, "The response headers policy does not exist."
	case resource.OriginAccessControl:
		return CodeInvalidOriginAccessControl, "The origin access control does not exist."
	case resource.OriginAccessIdentity:
		return CodeInvalidOriginAccessIdentity, "The origin access identity is not valid or doesn't exist."
	case resource.KeyGroup:
		return CodeTrustedKeyGroupDoesNotExist, "The specified key group does not exist."
	case resource.Function:
		return CodeInvalidFunctionAssociation, "The function ARN must reference a function that exists and is published to the LIVE stage."
	}
	return CodeInvalidArgument, "The " + string(kind) + " that the distribution names does not exist."
}

// missingRef turns a store's *resource.MissingRefError into CloudFront's
// error for it (codeForMissing); other errors are returned as they are.
func missingRef(err error) error {
	var mre *resource.MissingRefError
	if !errors.As(err, &mre) {
		return err
	}
	code, msg := codeForMissing(mre.Ref.Kind)
	return &Error{Code: code, Message: msg}
}

// ResourceGetter finds a stored resource, or answers resource.ErrNotFound;
// resource.Store implements it.
type ResourceGetter interface {
	GetResource(ctx context.Context, kind resource.Kind, id string) (resource.Resource, error)
}

// FunctionsLive returns a ServiceConfig.Check: each function c's cache
// behaviors associate must have a LIVE stage (have been published), or
// the configuration is InvalidFunctionAssociation. A function that does
// not exist is left to the store's reference check.
func FunctionsLive(store ResourceGetter) func(context.Context, Config) error {
	return func(ctx context.Context, c Config) error {
		for _, ref := range RefsOf(c) {
			if ref.Kind != resource.Function {
				continue
			}
			r, err := store.GetResource(ctx, resource.Function, ref.ID)
			if errors.Is(err, resource.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			f, err := function.Decode(r.Config)
			if err != nil {
				return err
			}
			if f.Live == nil {
				return newError(CodeInvalidFunctionAssociation, "The function %s is not published: the function ARN must reference a function in the LIVE stage.", ref.ID)
			}
		}
		return nil
	}
}
