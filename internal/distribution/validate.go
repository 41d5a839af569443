package distribution

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/openfront/openfront/internal/function"
)

// MaxKeyGroupsPerDistribution is how many key groups a distribution's
// behaviors may trust in all (CloudFront's quota).
const MaxKeyGroupsPerDistribution = 4

// CodeTooManyKeyGroupsAssociatedToDistribution is the error past
// MaxKeyGroupsPerDistribution.
const CodeTooManyKeyGroupsAssociatedToDistribution = "TooManyKeyGroupsAssociatedToDistribution"

// validate checks the configuration's own rules, one section after the
// other: the first broken rule is the error.
func (s *Service) validate(c Config, self string) error {
	ids, err := validateOrigins(c.Origins)
	if err != nil {
		return err
	}
	targets, err := validateOriginGroups(c.OriginGroups, ids)
	if err != nil {
		return err
	}
	if err := validateBehaviors(c.DefaultBehavior, c.Behaviors, targets); err != nil {
		return err
	}
	if strings.HasPrefix(c.DefaultRootObject, "/") || strings.ContainsAny(c.DefaultRootObject, "?#") {
		return newError(CodeInvalidDefaultRootObject, "The specified default root object is invalid.")
	}
	if err := validateAliases(c.Aliases); err != nil {
		return err
	}
	return validateErrorResponses(c.CustomErrorResponses)
}

// validateOrigins checks the origins and returns their IDs.
func validateOrigins(origins []Origin) (map[string]bool, error) {
	if len(origins) == 0 {
		return nil, newError(CodeInvalidArgument, "The parameter Origins must contain at least one origin.")
	}
	ids := map[string]bool{}
	for _, o := range origins {
		if o.ID == "" {
			return nil, newError(CodeInvalidArgument, "The parameter Origin Id must not be empty.")
		}
		if ids[o.ID] {
			return nil, newError(CodeInvalidArgument, "The parameter Origin Id must be unique: %q is used twice.", o.ID)
		}
		ids[o.ID] = true
		if !validHost(o.DomainName) {
			return nil, newError(CodeInvalidArgument, "The parameter origin name must be a domain name.")
		}
		if o.OriginPath != "" && (!strings.HasPrefix(o.OriginPath, "/") || strings.HasSuffix(o.OriginPath, "/")) {
			return nil, newError(CodeInvalidArgument, "The parameter OriginPath must begin with a slash and must not end with one.")
		}
	}
	if len(origins) > 100 {
		return nil, newError(CodeTooManyOrigins, "You cannot create more origins for the distribution.")
	}
	return ids, nil
}

// validateOriginGroups checks the origin groups over the origins' ids
// and returns what a behavior may target: the origins and the groups.
func validateOriginGroups(groups []OriginGroup, ids map[string]bool) (map[string]bool, error) {
	targets := maps.Clone(ids)
	for _, g := range groups {
		if ids[g.ID] || targets[g.ID] {
			return nil, newError(CodeInvalidArgument, "The parameter OriginGroup Id must be unique among origins and origin groups: %q is used twice.", g.ID)
		}
		if len(g.Members) != 2 {
			return nil, newError(CodeInvalidArgument, "The parameter Members of origin group %q must name exactly 2 origins.", g.ID)
		}
		for _, m := range g.Members {
			if !ids[m] {
				return nil, newError(CodeNoSuchOrigin, "One or more of your origins or origin groups do not exist.")
			}
		}
		targets[g.ID] = true
	}
	return targets, nil
}

// validateBehaviors checks the default behavior, then the others: each
// targets an origin or group, and the others have unique path patterns.
func validateBehaviors(def CacheBehavior, behaviors []CacheBehavior, targets map[string]bool) error {
	patterns := map[string]bool{}
	groups := map[string]bool{}
	for i, b := range append([]CacheBehavior{def}, behaviors...) {
		for _, g := range b.TrustedKeyGroups {
			groups[g] = true
		}
		if len(groups) > MaxKeyGroupsPerDistribution {
			return newError(CodeTooManyKeyGroupsAssociatedToDistribution, "The number of key groups referenced by this distribution is more than the maximum allowed. For more information, see Quotas (formerly known as limits) in the Amazon CloudFront Developer Guide.")
		}
		if !targets[b.TargetOriginID] {
			return newError(CodeNoSuchOrigin, "One or more of your origins or origin groups do not exist.")
		}
		if i > 0 {
			if b.PathPattern == "" {
				return newError(CodeInvalidArgument, "The parameter PathPattern is required for CacheBehavior %d.", i)
			}
			if patterns[b.PathPattern] {
				return newError(CodeInvalidArgument, "The parameter PathPattern must be unique: %q is used twice.", b.PathPattern)
			}
			patterns[b.PathPattern] = true
		}
		if b.CachePolicyID == "" && !(b.MinTTL <= b.DefaultTTL && b.DefaultTTL <= b.MaxTTL) {
			return newError(CodeInvalidTTLOrder, "The TTL order specified in CacheBehavior is not valid.")
		}
		if err := validateFunctionAssociations(b.FunctionAssociations); err != nil {
			return err
		}
	}
	return nil
}

// validateFunctionAssociations checks a behavior's CloudFront Functions:
// each a function ARN, on viewer-request or viewer-response (the events
// CloudFront Functions run on), at most one per event type.
func validateFunctionAssociations(as []FunctionAssociation) error {
	seen := map[string]bool{}
	for _, a := range as {
		if a.EventType != function.ViewerRequest && a.EventType != function.ViewerResponse {
			return newError(CodeInvalidFunctionAssociation, "The event type %q is not valid for a CloudFront function: use viewer-request or viewer-response.", a.EventType)
		}
		if seen[a.EventType] {
			return newError(CodeInvalidFunctionAssociation, "A cache behavior can have only one function association for the event type %s.", a.EventType)
		}
		seen[a.EventType] = true
		if _, ok := function.NameFromARN(a.FunctionARN); !ok {
			return newError(CodeInvalidFunctionAssociation, "The function ARN %q is not the ARN of a CloudFront function.", a.FunctionARN)
		}
	}
	return nil
}

// validateAliases checks that each alias is a host name, or a wildcard
// one, listed once (in any case, with or without the final dot).
func validateAliases(aliases []string) error {
	seen := map[string]bool{}
	for _, a := range aliases {
		la := strings.ToLower(strings.TrimSuffix(a, "."))
		if !validHost(strings.TrimPrefix(la, "*.")) {
			return newError(CodeInvalidArgument, "The parameter CNAME contains one or more characters that are not valid: %q.", a)
		}
		if seen[la] {
			return newError(CodeInvalidArgument, "The parameter CNAME %q is listed twice.", a)
		}
		seen[la] = true
	}
	return nil
}

// validateErrorResponses checks the custom error responses.
func validateErrorResponses(responses []ErrorResponse) error {
	for _, e := range responses {
		if !slices.Contains(errorCodes, e.ErrorCode) {
			return newError(CodeInvalidErrorCode, "The error code %d cannot be customized.", e.ErrorCode)
		}
		if e.ResponseCode != "" {
			if n, err := strconv.Atoi(e.ResponseCode); err != nil || !slices.Contains(responseCodes, n) {
				return newError(CodeInvalidResponseCode, "The response code %q is not valid.", e.ResponseCode)
			}
		}
		if e.ResponsePagePath != "" && !strings.HasPrefix(e.ResponsePagePath, "/") {
			return newError(CodeInvalidRelativePath, "The relative path %q must begin with a slash.", e.ResponsePagePath)
		}
		if (e.ResponsePagePath == "") != (e.ResponseCode == "") {
			return newError(CodeInvalidArgument, "ResponsePagePath and ResponseCode must be given together in CustomErrorResponse %d.", e.ErrorCode)
		}
	}
	return nil
}

// errorCodes are the origin status codes CloudFront lets you customize.
var errorCodes = []int{400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504}

// responseCodes are what a custom error response may answer with.
var responseCodes = []int{200, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504}

// validateTags checks a resource's tags: at most 50, with the keys'
// and values' lengths and characters.
func validateTags(tags []Tag) error {
	if len(tags) > 50 {
		return newError(CodeInvalidTagging, "A resource can have at most 50 tags.")
	}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > 128 || len(t.Value) > 256 || !tagText(t.Key) || !tagText(t.Value) {
			return newError(CodeInvalidTagging, "The tag %q is not valid: keys are 1 to 128 characters, values up to 256, of letters, digits, spaces and _.:/=+-@.", t.Key)
		}
	}
	return nil
}

// tagText reports whether s holds only characters a tag may.
func tagText(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r > 127:
		case strings.ContainsRune(" _.:/=+-@", r):
		default:
			return false
		}
	}
	return true
}

// validHost reports whether h is a plausible DNS name or IPv4 address.
// Ports go in the origin's HTTPPort/HTTPSPort, as on CloudFront.
func validHost(h string) bool {
	if h == "" || len(h) > 253 || strings.Contains(h, ":") {
		return false
	}
	u, err := url.Parse("http://" + h)
	if err != nil || u.Host != h || u.User != nil || u.Path != "" || u.RawQuery != "" {
		return false
	}
	return !strings.ContainsAny(h, "/ _*")
}
