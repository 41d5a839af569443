package distribution

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/openfront/openfront/internal/resource"
)

func TestRefsOf(t *testing.T) {
	c := Config{
		Origins:         []Origin{{ID: "a", OriginAccessControlID: "E1OAC"}, {ID: "b"}, {ID: "c", OriginAccessControlID: "E1OAC"}},
		DefaultBehavior: CacheBehavior{CachePolicyID: "cp-1", OriginRequestPolicyID: "orp-1", ResponseHeadersPolicyID: "rhp-1"},
		Behaviors: []CacheBehavior{
			{PathPattern: "/a/*", CachePolicyID: "cp-2", ResponseHeadersPolicyID: "rhp-1"},
			{PathPattern: "/b/*", CachePolicyID: "cp-1", OriginRequestPolicyID: "cp-2"},
			{PathPattern: "/c/*", TrustedKeyGroups: []string{"kg-1", "kg-2"}},
			{PathPattern: "/d/*", TrustedKeyGroups: []string{"kg-2"}},
		},
	}
	want := []resource.Ref{
		{Kind: resource.CachePolicy, ID: "cp-1"},
		{Kind: resource.OriginRequestPolicy, ID: "orp-1"},
		{Kind: resource.ResponseHeadersPolicy, ID: "rhp-1"},
		{Kind: resource.CachePolicy, ID: "cp-2"},
		// The same Id of another kind is another ref.
		{Kind: resource.OriginRequestPolicy, ID: "cp-2"},
		{Kind: resource.KeyGroup, ID: "kg-1"},
		{Kind: resource.KeyGroup, ID: "kg-2"},
		{Kind: resource.OriginAccessControl, ID: "E1OAC"},
	}
	if got := RefsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("RefsOf:\n got %v\nwant %v", got, want)
	}
	if got := RefsOf(Config{Origins: []Origin{{ID: "o"}}, DefaultBehavior: CacheBehavior{TargetOriginID: "o"}}); got != nil {
		t.Errorf("RefsOf of a legacy config: %v, want none", got)
	}
}

func TestCodeForMissing(t *testing.T) {
	for kind, code := range map[resource.Kind]string{
		resource.CachePolicy:           "NoSuchCachePolicy",
		resource.OriginRequestPolicy:   "NoSuchOriginRequestPolicy",
		resource.ResponseHeadersPolicy: "NoSuchResponseHeadersPolicy",
		resource.OriginAccessControl:   "InvalidOriginAccessControl",
		resource.OriginAccessIdentity:  "InvalidOriginAccessIdentity",
		resource.KeyGroup:              "TrustedKeyGroupDoesNotExist",
		resource.Kind("unknown"):       "InvalidArgument",
	} {
		got, msg := codeForMissing(kind)
		if got != code || msg == "" {
			t.Errorf("codeForMissing(%s) = %q %q, want %q", kind, got, msg, code)
		}
	}
	err := missingRef(fmt.Errorf("store: %w", &resource.MissingRefError{Ref: resource.Ref{Kind: resource.CachePolicy, ID: "x"}}))
	var de *Error
	if !errors.As(err, &de) || de.Code != "NoSuchCachePolicy" || de.Message != "The cache policy does not exist." {
		t.Errorf("missingRef: %v", err)
	}
	other := errors.New("disk full")
	if missingRef(other) != other {
		t.Error("missingRef changed another error")
	}
}
