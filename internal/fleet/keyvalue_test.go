package fleet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	edgepkg "github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/keyvalue"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

func kvsResource(id, etag string, keys map[string]string) resource.Resource {
	s := keyvalue.Store{Comment: "c", Keys: keys}
	return resource.Resource{Kind: resource.KeyValueStore, ID: id, Name: "kvs-" + id, ETag: etag, Config: s.Encode()}
}

// A PutKey (a new version of the store's record) reaches every edge's
// KeyValues reader the way an invalidation does: once the hub's
// WaitApplied for its log position returns (when an invalidation would
// be Completed), every edge serves the new value. A store in the hub's
// snapshot reaches an edge that joins later; a deleted store is gone.
func TestKeyValuePutReachesEveryEdge(t *testing.T) {
	const id = "8562a61f-caba-4845-9d99-b97d1a7e5d3c"
	arn := keyvalue.ARN("123456789012", id)
	src := &resources{rs: map[string]resource.Resource{}}
	v1 := kvsResource(id, "E1", map[string]string{"greeting": "hello"})
	src.put(v1)
	hub := newHub(t, memory.New(), fleet.HubConfig{Resources: src.all})
	ctx := context.Background()

	var edges []*edgepkg.Edge
	var followers []*fleet.Follower
	for _, name := range []string{"kv1", "kv2"} {
		reg := distribution.NewRegistry()
		e := edgepkg.New(edgepkg.Config{Distributions: reg, Logger: quiet})
		t.Cleanup(e.Close)
		f := fleet.NewFollower(fleet.FollowerConfig{Hub: hub, Name: name, Addr: "http://" + name + ".test", Registry: reg, Cache: e, Logger: quiet})
		runFollower(t, f)
		edges, followers = append(edges, e), append(followers, f)
	}
	eventually(t, "the snapshots applied", func() bool { return followers[0].Fresh() && followers[1].Fresh() })
	for i, e := range edges {
		if v, ok, err := e.KeyValues().Get(ctx, arn, "greeting"); err != nil || !ok || v != "hello" {
			t.Fatalf("edge %d from its snapshot: %q %v %v", i, v, ok, err)
		}
		if _, ok, err := e.KeyValues().Get(ctx, arn, "nope"); err != nil || ok {
			t.Fatalf("edge %d: a missing key: %v %v", i, ok, err)
		}
	}

	// PutKey: the store's record, new version.
	start := time.Now()
	v2 := kvsResource(id, "E2", map[string]string{"greeting": "bonjour", "new": "key"})
	src.put(v2)
	pos, err := hub.Publish(ctx, fleet.ResourceKey(v2.Kind, v2.ID, v2.ETag), fleet.Event{Kind: fleet.KindResource, Resource: &v2})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := hub.WaitApplied(wctx, pos); err != nil {
		t.Fatalf("the edges did not apply the put: %v", err)
	}
	t.Logf("the put was applied by both edges %v after it was logged", time.Since(start))
	for i, e := range edges {
		if v, ok, err := e.KeyValues().Get(ctx, arn, "greeting"); err != nil || !ok || v != "bonjour" {
			t.Errorf("edge %d after WaitApplied: %q %v %v, want bonjour", i, v, ok, err)
		}
		if v, _, _ := e.KeyValues().Get(ctx, arn, "new"); v != "key" {
			t.Errorf("edge %d: the new key is %q", i, v)
		}
	}

	// DeleteKeyValueStore.
	if err := hub.RemoveResource(ctx, resource.KeyValueStore, id); err != nil {
		t.Fatal(err)
	}
	for _, e := range edges {
		eventually(t, "the removal applied", func() bool {
			_, _, err := e.KeyValues().Get(ctx, arn, "greeting")
			return errors.Is(err, edgepkg.ErrNoKeyValueStore)
		})
	}
	if _, _, err := edges[0].KeyValues().Get(ctx, "not-an-arn", "k"); !errors.Is(err, edgepkg.ErrNoKeyValueStore) {
		t.Errorf("a bad ARN: %v", err)
	}
}
