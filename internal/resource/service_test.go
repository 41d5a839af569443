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

// TestIDIsNameAndModify: a kind whose Id is its name refuses a second
// create of the name; Modify gives a new ETag, and a missing
// reference is the kind's MissingRef error.
func TestIDIsNameAndModify(t *testing.T) {
	s := resource.NewService(resource.Config{Store: memory.New(), Rules: resource.Rules{
		Kind: resource.Function, IDIsName: true, AlreadyExists: "AlreadyExists", NoSuch: "NoSuch",
		MissingRef: func(ref resource.Ref) (string, string) { return "EntityNotFound", ref.ID }}})
	ctx := context.Background()
	r, _, err := s.Create(ctx, resource.Resource{Name: "fn", ETag: "ECHOSEN"})
	if err != nil || r.ID != "fn" || r.ETag != "ECHOSEN" {
		t.Fatalf("create: %+v %v", r, err)
	}
	var re *resource.Error
	if _, _, err := s.Create(ctx, resource.Resource{Name: "fn"}); !errors.As(err, &re) || re.Code != "AlreadyExists" {
		t.Fatalf("second create: %v", err)
	}
	got, err := s.Modify(ctx, "fn", func(r *resource.Resource) error { r.Config = []byte("x"); return nil })
	if err != nil || got.ETag == "ECHOSEN" || string(got.Config) != "x" {
		t.Fatalf("modify: %+v %v", got, err)
	}
	if _, err := s.Modify(ctx, "nope", func(*resource.Resource) error { return nil }); !errors.As(err, &re) || re.Code != "NoSuch" {
		t.Fatalf("modify unknown: %v", err)
	}
	_, _, err = s.Create(ctx, resource.Resource{Name: "g", Refs: []resource.Ref{{Kind: resource.KeyValueStore, ID: "kvs1"}}})
	if !errors.As(err, &re) || re.Code != "EntityNotFound" || re.Message != "kvs1" {
		t.Fatalf("create naming a missing store: %v", err)
	}
}
