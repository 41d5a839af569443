package resource_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

// TestIdempotentCreateAtQuota: a repeated create of an idempotent kind
// returns the existing resource even when the quota is reached.
func TestIdempotentCreateAtQuota(t *testing.T) {
	s := resource.NewService(resource.Config{Store: memory.New(), Rules: resource.Rules{
		Kind: resource.OriginAccessIdentity, Max: 2, IdempotentName: true,
		TooMany: "TooMany", AlreadyExists: "AlreadyExists"}})
	ctx := context.Background()
	var first resource.Resource
	for i := range 2 {
		r, created, err := s.Create(ctx, resource.Resource{Name: fmt.Sprint("ref", i), Raw: []byte(fmt.Sprint("doc", i))})
		if err != nil || !created {
			t.Fatal(created, err)
		}
		if i == 0 {
			first = r
		}
	}
	again, created, err := s.Create(ctx, resource.Resource{Name: "ref0", Raw: []byte("doc0")})
	if err != nil || created || again.ID != first.ID || again.ETag != first.ETag {
		t.Fatalf("repeat at the quota: %v %v %+v", created, err, again)
	}
	_, _, err = s.Create(ctx, resource.Resource{Name: "ref2", Raw: []byte("doc2")})
	var re *resource.Error
	if !errors.As(err, &re) || re.Code != "TooMany" {
		t.Fatalf("past the quota: %v", err)
	}
}
