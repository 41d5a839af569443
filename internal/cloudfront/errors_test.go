package cloudfront

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/store/memory"
)

// TestMissingRefErrors: a distribution naming a resource that does not
// exist, refused by the store, reaches the client as the error of the
// resource's kind with the service model's status.
func TestMissingRefErrors(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := distribution.NewService(ctx, distribution.ServiceConfig{Store: memory.New(), Refs: distribution.RefsOf})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	base := func() distribution.Config {
		return distribution.Config{
			Origins:         []distribution.Origin{{ID: "o1", DomainName: "origin.example.com"}},
			DefaultBehavior: distribution.CacheBehavior{TargetOriginID: "o1", MaxTTL: 60},
		}
	}
	for code, set := range map[string]func(c *distribution.Config){
		distribution.CodeNoSuchCachePolicy:           func(c *distribution.Config) { c.DefaultBehavior.CachePolicyID = "CP1" },
		distribution.CodeNoSuchOriginRequestPolicy:   func(c *distribution.Config) { c.DefaultBehavior.OriginRequestPolicyID = "ORP1" },
		distribution.CodeNoSuchResponseHeadersPolicy: func(c *distribution.Config) { c.DefaultBehavior.ResponseHeadersPolicyID = "RHP1" },
		distribution.CodeInvalidOriginAccessControl:  func(c *distribution.Config) { c.Origins[0].OriginAccessControlID = "OAC1" },
	} {
		cfg := base()
		set(&cfg)
		_, err := svc.Create(ctx, "ref-"+code, cfg, nil, nil)
		if err == nil {
			t.Errorf("%s: created", code)
			continue
		}
		want, ok := xmlmodel.ErrorStatus(code)
		if !ok {
			t.Fatalf("%s: not in the service model", code)
		}
		if got := toAPIError(err, log, "req"); got.Code != code || got.Status != want {
			t.Errorf("%s: %d %s %q, want %d %s", code, got.Status, got.Code, got.Message, want, code)
		}
	}
}
