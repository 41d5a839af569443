package fleet_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	edgepkg "github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

// resources is a control plane's resource store, as a ResourceSource
// sees it.
type resources struct {
	mu sync.Mutex
	rs map[string]resource.Resource // guarded by mu
}

func (s *resources) put(r resource.Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rs[string(r.Kind)+"/"+r.ID] = r
}

func (s *resources) all() []resource.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []resource.Resource
	for _, r := range s.rs {
		out = append(out, r)
	}
	return out
}

func cachePolicyResource(t *testing.T, id, etag string, names ...string) resource.Resource {
	t.Helper()
	cfg, err := json.Marshal(policy.CachePolicy{Name: id, MinTTL: 1, DefaultTTL: 86400, MaxTTL: 31536000,
		Headers: policy.Selection{Behavior: policy.None}, Cookies: policy.Selection{Behavior: policy.None},
		QueryStrings: policy.Selection{Behavior: policy.Whitelist, Names: names}})
	if err != nil {
		t.Fatal(err)
	}
	return resource.Resource{Kind: resource.CachePolicy, ID: id, Name: id, ETag: etag, Config: cfg, Raw: []byte("<CachePolicyConfig/>")}
}

// A resource published to the hub reaches an edge that joins later (in
// its snapshot) and one that follows the log, whose distribution then
// acts on it without a new version of the distribution.
func TestResourcesReachEdges(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write([]byte(r.RequestURI))
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	d := distribution.FromFile("ERES1", u, []string{"res.test"}, "", time.Now())
	d.Config.DefaultBehavior.CachePolicyID = "cp"

	store := memory.New()
	src := &resources{rs: map[string]resource.Resource{}}
	hub := newHub(t, store, fleet.HubConfig{
		Distributions: func() []*distribution.Distribution { return []*distribution.Distribution{d} },
		Resources:     src.all,
	})
	ctx := context.Background()
	v1 := cachePolicyResource(t, "cp", "E1", "v")
	src.put(v1)
	if err := hub.PublishResource(ctx, v1); err != nil {
		t.Fatal(err)
	}
	// Publishing a version again logs nothing new.
	_, head, _ := store.LogBounds(ctx)
	if err := hub.PublishResource(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if _, again, _ := store.LogBounds(ctx); again != head {
		t.Errorf("publishing a version again moved the log from %d to %d", head, again)
	}

	// An edge joining now gets the policy in its snapshot.
	reg := distribution.NewRegistry()
	e := edgepkg.New(edgepkg.Config{Distributions: reg, Logger: quiet})
	defer e.Close()
	f := fleet.NewFollower(fleet.FollowerConfig{Hub: hub, Name: "e1", Addr: "http://e1.test", Registry: reg, Cache: e, Logger: quiet})
	runFollower(t, f)
	get := func(uri string) (string, string) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://res.test"+uri, nil))
		return w.Body.String(), w.Header().Get("X-Cache")
	}
	eventually(t, "the snapshot applied", func() bool { _, ok := reg.Get("ERES1"); return ok && f.Fresh() })
	if body, _ := get("/a?v=1&w=1"); body != "/a?v=1" {
		t.Fatalf("under the snapshot's policy the origin was asked %q, want /a?v=1", body)
	}
	if body, x := get("/a?v=1&w=2"); body != "/a?v=1" || x != "Hit from cloudfront" {
		t.Fatalf("another w: %q %q, want a hit", body, x)
	}

	// A new version reaches the serving edge through the log.
	v2 := cachePolicyResource(t, "cp", "E2", "v", "w")
	src.put(v2)
	if err := hub.PublishResource(ctx, v2); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new version applied", func() bool { body, _ := get("/a?v=1&w=3"); return body == "/a?v=1&w=3" })

	// Removed: the behavior falls back to its own settings.
	if err := hub.RemoveResource(ctx, resource.CachePolicy, "cp"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removal applied", func() bool { body, _ := get("/b?v=1"); return body == "/b" })
}

// A hub without a ResourceSource sends snapshots without resources, and
// an event without its resource is refused by the follower.
func TestHubWithoutResourceSource(t *testing.T) {
	hub := newHub(t, memory.New(), fleet.HubConfig{})
	if err := hub.PublishResource(context.Background(), resource.Resource{}); err == nil {
		t.Error("a resource without kind or id was published")
	}
	reg := distribution.NewRegistry()
	e := edgepkg.New(edgepkg.Config{Distributions: reg, Logger: quiet})
	defer e.Close()
	f := fleet.NewFollower(fleet.FollowerConfig{Hub: hub, Name: "e2", Addr: "http://e2.test", Registry: reg, Cache: e, Logger: quiet})
	runFollower(t, f)
	eventually(t, "the snapshot applied", func() bool { return f.Fresh() })
	if _, ok := e.OriginAccessControl("x"); ok {
		t.Error("an origin access control out of nowhere")
	}
}
