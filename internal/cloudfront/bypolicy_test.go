package cloudfront_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

// lookup is a ResourceLookup over a set of Refs; err, when set, is every
// look-up's answer.
type lookup struct {
	known map[resource.Ref]bool
	err   error
}

func (l lookup) GetResource(_ context.Context, kind resource.Kind, id string) (resource.Resource, error) {
	if l.err != nil {
		return resource.Resource{}, l.err
	}
	if !l.known[resource.Ref{Kind: kind, ID: id}] {
		return resource.Resource{}, resource.ErrNotFound
	}
	return resource.Resource{Kind: kind, ID: id}, nil
}

type idList struct {
	Marker      string
	NextMarker  *string
	MaxItems    int
	IsTruncated bool
	Quantity    int
	Items       []string `xml:"Items>DistributionId"`
}

type errorResponse struct {
	Code string `xml:"Error>Code"`
}

func newByPolicyHandler(t *testing.T, l cloudfront.ResourceLookup) *cloudfront.Handler {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := memory.New()
	dists, err := distribution.NewService(context.Background(), distribution.ServiceConfig{Store: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dists.Close)
	svc := invalidation.NewService(invalidation.Config{Store: store, Distributions: dists.Registry(), Logger: quiet})
	t.Cleanup(svc.Close)
	return cloudfront.NewHandler(cloudfront.Config{Invalidations: svc, Distributions: dists, Logger: quiet, Resources: l})
}

func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, strings.NewReader(body)))
	return w
}

// createWithPolicies creates a distribution whose default behavior has
// the members def and whose one other behavior (if any) has the members
// other; it returns its Id.
func createWithPolicies(t *testing.T, h http.Handler, ref, def, other string) string {
	t.Helper()
	cb := ""
	if other != "" {
		cb = `<CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>/x/*</PathPattern><TargetOriginId>web</TargetOriginId>` +
			`<ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>` + other + `</CacheBehavior></Items></CacheBehaviors>`
	}
	w := serve(h, "POST", "/2020-05-31/distribution", `<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">`+
		`<CallerReference>`+ref+`</CallerReference><Origins><Quantity>1</Quantity><Items><Origin><Id>web</Id><DomainName>origin.example.com</DomainName>`+
		`<CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy></CustomOriginConfig></Origin></Items></Origins>`+
		`<DefaultCacheBehavior><TargetOriginId>web</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>`+def+`</DefaultCacheBehavior>`+
		cb+`<Comment></Comment><Enabled>true</Enabled></DistributionConfig>`)
	if w.Code != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", ref, w.Code, w.Body)
	}
	var d struct{ Id string }
	if err := xml.Unmarshal(w.Body.Bytes(), &d); err != nil || d.Id == "" {
		t.Fatalf("creating %s: %v %s", ref, err, w.Body)
	}
	return d.Id
}

func listBy(t *testing.T, h http.Handler, target string) idList {
	t.Helper()
	w := serve(h, "GET", target, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	if !strings.Contains(w.Body.String(), `<DistributionIdList xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">`) {
		t.Errorf("GET %s: %s", target, w.Body)
	}
	var l idList
	if err := xml.Unmarshal(w.Body.Bytes(), &l); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return l
}

func expectCode(t *testing.T, h http.Handler, method, target string, status int, code string) {
	t.Helper()
	w := serve(h, method, target, "")
	var e errorResponse
	xml.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != status || e.Code != code {
		t.Errorf("%s %s: %d %s, want %d %s", method, target, w.Code, e.Code, status, code)
	}
}

func TestListDistributionsByPolicy(t *testing.T) {
	h := newByPolicyHandler(t, lookup{known: map[resource.Ref]bool{
		{Kind: resource.CachePolicy, ID: "custom-cache"}:         true,
		{Kind: resource.ResponseHeadersPolicy, ID: "custom-rhp"}: true,
	}})
	const byCache, byORP, byRHP = "/2020-05-31/distributionsByCachePolicyId/", "/2020-05-31/distributionsByOriginRequestPolicyId/", "/2020-05-31/distributionsByResponseHeadersPolicyId/"
	cp := func(id string) string { return `<CachePolicyId>` + id + `</CachePolicyId>` }
	orp := func(id string) string { return `<OriginRequestPolicyId>` + id + `</OriginRequestPolicyId>` }
	rhp := func(id string) string { return `<ResponseHeadersPolicyId>` + id + `</ResponseHeadersPolicyId>` }
	a := createWithPolicies(t, h, "a", cp(policy.CachingOptimizedID)+rhp(policy.SecurityHeadersPolicyID), cp("custom-cache")+orp(policy.AllViewerID))
	b := createWithPolicies(t, h, "b", cp(policy.CachingDisabledID)+orp(policy.AllViewerID), "")
	c := createWithPolicies(t, h, "c", cp(policy.CachingOptimizedID), "")
	createWithPolicies(t, h, "legacy", `<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies></ForwardedValues>`, "")
	sorted := func(ids ...string) []string { sort.Strings(ids); return ids }

	for target, want := range map[string][]string{
		byCache + policy.CachingOptimizedID:    sorted(a, c),
		byCache + policy.CachingDisabledID:     {b},
		byCache + "custom-cache":               {a}, // in a cache behavior other than the default
		byORP + policy.AllViewerID:             sorted(a, b),
		byRHP + policy.SecurityHeadersPolicyID: {a},
	} {
		l := listBy(t, h, target)
		if !reflect.DeepEqual(l.Items, want) || l.Quantity != len(want) || l.IsTruncated || l.NextMarker != nil || l.MaxItems != 100 || l.Marker != "" {
			t.Errorf("%s: %+v, want %v", target, l, want)
		}
	}
	// A known policy no distribution names: an empty list, without Items.
	for _, target := range []string{byRHP + "custom-rhp", byRHP + policy.SimpleCORSID, byORP + policy.CORSS3OriginID, byCache + policy.AmplifyID} {
		w := serve(h, "GET", target, "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "<Quantity>0</Quantity>") || strings.Contains(w.Body.String(), "<Items>") {
			t.Errorf("%s: %d %s", target, w.Code, w.Body)
		}
	}

	// Pages.
	ids := sorted(a, c)
	l := listBy(t, h, byCache+policy.CachingOptimizedID+"?MaxItems=1")
	if !reflect.DeepEqual(l.Items, ids[:1]) || !l.IsTruncated || l.NextMarker == nil || *l.NextMarker != ids[0] || l.MaxItems != 1 {
		t.Errorf("page 1: %+v", l)
	}
	l = listBy(t, h, byCache+policy.CachingOptimizedID+"?MaxItems=1&Marker="+ids[0])
	if !reflect.DeepEqual(l.Items, ids[1:]) || l.IsTruncated || l.NextMarker != nil || l.Marker != ids[0] {
		t.Errorf("page 2: %+v", l)
	}
	l = listBy(t, h, byCache+policy.CachingOptimizedID+"?Marker="+ids[1])
	if l.Quantity != 0 || l.Items != nil || l.IsTruncated {
		t.Errorf("past the end: %+v", l)
	}

	// Unknown policies, each of its kind: a cache policy's Id is no
	// response headers policy.
	expectCode(t, h, "GET", byCache+"nope", 404, "NoSuchCachePolicy")
	expectCode(t, h, "GET", byORP+"nope", 404, "NoSuchOriginRequestPolicy")
	expectCode(t, h, "GET", byRHP+"nope", 404, "NoSuchResponseHeadersPolicy")
	expectCode(t, h, "GET", byRHP+"custom-cache", 404, "NoSuchResponseHeadersPolicy")
	expectCode(t, h, "GET", byRHP+policy.CachingOptimizedID, 404, "NoSuchResponseHeadersPolicy")
	expectCode(t, h, "GET", byCache+policy.CachingOptimizedID+"?MaxItems=0", 400, "InvalidArgument")
	expectCode(t, h, "GET", byCache+policy.CachingOptimizedID+"?MaxItems=1001", 400, "InvalidArgument")
	expectCode(t, h, "POST", byCache+policy.CachingOptimizedID, 405, "MethodNotAllowed")
}

// TestListDistributionsByPolicyLookup: without a lookup only managed
// policies exist; a failing lookup is an internal error, not NoSuch.
func TestListDistributionsByPolicyLookup(t *testing.T) {
	h := newByPolicyHandler(t, nil)
	if l := listBy(t, h, "/2020-05-31/distributionsByCachePolicyId/"+policy.CachingOptimizedID); l.Quantity != 0 {
		t.Errorf("%+v", l)
	}
	expectCode(t, h, "GET", "/2020-05-31/distributionsByCachePolicyId/custom", 404, "NoSuchCachePolicy")

	h = newByPolicyHandler(t, lookup{err: errors.New("disk on fire")})
	expectCode(t, h, "GET", "/2020-05-31/distributionsByOriginRequestPolicyId/custom", 500, "InternalError")
	if l := listBy(t, h, "/2020-05-31/distributionsByOriginRequestPolicyId/"+policy.AllViewerID); l.Quantity != 0 {
		t.Errorf("a managed policy needs no look-up: %+v", l)
	}
}
