package edge

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
)

func TestCanonical(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/a/b.jpg", "/a/b.jpg"},
		{"/%7Euser/%41b", "/~user/Ab"},
		{"/a%2fb", "/a%2Fb"},
		{"/a%2Fb", "/a%2Fb"},
		{"/caf\u00e9 menu", "/caf%C3%A9%20menu"},
		{"/caf%c3%a9%20menu", "/caf%C3%A9%20menu"},
		{"/100%", "/100%25"},
		{"/%zz", "/%25zz"},
		{"/a+b;c=d@e:f!$&'()*,", "/a+b;c=d@e:f!$&'()*,"},
		{"/q?x", "/q%3Fx"},
		{"/{x}|\"<>\\^`", "/%7Bx%7D%7C%22%3C%3E%5C%5E%60"},
	} {
		if got := canonical(c.in, false); got != c.want {
			t.Errorf("canonical(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := canonical("a=1&b=%2f?c/d+e", true); got != "a=1&b=%2F?c/d+e" {
		t.Errorf("canonical query = %q", got)
	}
	// Canonical input is returned as is, without allocating.
	s := "/images/a-b_c.d~e/%2F%C3%A9"
	if n := testing.AllocsPerRun(100, func() { _ = canonical(s, false) }); n != 0 {
		t.Errorf("canonical of a canonical path allocates %v times", n)
	}
}

func TestInvalidationPattern(t *testing.T) {
	plain := behavior{}
	fwd := behavior{keyQuery: sel{mode: selAll}}
	root := behavior{rootObject: "index.html"}
	keys := behavior{keyQuery: sel{mode: selWhitelist, names: []string{"v"}}, originQuery: selSet{{mode: selAll}}}
	for _, c := range []struct {
		b    *behavior
		path string
		want pattern
	}{
		{&plain, "/a.jpg", pattern{"/a.jpg", false}},
		{&plain, "/a.jpg?v=1", pattern{"/a.jpg", false}},
		{&plain, "/a.jpg?v=*", pattern{"/a.jpg", false}},
		{&plain, "/images/*", pattern{"/images/", true}},
		{&plain, "/*", pattern{"/", true}},
		{&plain, "/a%2*", pattern{"/a", true}},
		{&plain, "/a%*", pattern{"/a", true}},
		{&plain, "/%7e*", pattern{"/~", true}},
		{&fwd, "/a.jpg", pattern{"/a.jpg", false}},
		{&fwd, "/a.jpg?v=1", pattern{"/a.jpg?v=1", false}},
		{&fwd, "/a.jpg?v=*", pattern{"/a.jpg?v=", true}},
		{&fwd, "/a.jpg?*", pattern{"/a.jpg?", true}},
		{&root, "/", pattern{"/index.html", false}},
		{&root, "/*", pattern{"/", true}},
		{&keys, "/a?x=1&v=2", pattern{"/a?v=2", false}},
		{&keys, "/a?x=1", pattern{"/a", false}},
	} {
		if got := invalidationPattern(&site{def: *c.b}, c.path); got != c.want {
			t.Errorf("invalidationPattern(%+v, %q) = %+v, want %+v", *c.b, c.path, got, c.want)
		}
	}
	// A request and an invalidation path name an object the same way.
	if objectName(&keys, "/a", "x=1&v=2") != "/a?v=2" || originTarget(&keys, "/a", "x=1&v=2") != "/a?x=1&v=2" {
		t.Error("QueryStringCacheKeys must narrow the key, not what the origin gets")
	}
}

// TestRadixTree checks the tree against a brute-force list of markers.
func TestRadixTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "/ab?="
	word := func(n int) string {
		var sb strings.Builder
		sb.WriteByte('/')
		for range rng.IntN(n) {
			sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	for round := range 200 {
		var root node
		brute := map[string]uint64{}
		var seq uint64
		var count int64
		for range rng.IntN(60) {
			seq++
			p := word(8)
			count += root.insert(p, seq)
			for q := range brute { // the new marker covers the ones below it
				if strings.HasPrefix(q, p) {
					delete(brute, q)
				}
			}
			brute[p] = seq
			if rng.IntN(10) == 0 {
				low := uint64(rng.IntN(int(seq) + 1))
				count -= root.prune(low)
				for q, s := range brute {
					if s <= low {
						delete(brute, q)
					}
				}
			}
		}
		if count != int64(len(brute)) {
			t.Fatalf("round %d: tree counts %d markers, want %d", round, count, len(brute))
		}
		for range 200 {
			name, at := word(12), uint64(rng.IntN(int(seq)+2))
			want := false
			for q, s := range brute {
				if s > at && strings.HasPrefix(name, q) {
					want = true
				}
			}
			if got := root.newer(name, at); got != want {
				t.Fatalf("round %d: newer(%q, %d) = %v, want %v (markers %v)", round, name, at, got, want, brute)
			}
		}
	}
}

func TestDistStateReclaim(t *testing.T) {
	var clock atomic.Uint64
	d := newDistState("E")
	old := d.pin(&clock) // an object cached before the invalidations
	d.mu.Lock()
	d.mark([]pattern{{"/a/", true}, {"/b", false}}, clock.Add(1))
	d.mu.Unlock()
	if !d.dead("/a/x", old) || !d.dead("/b", old) || d.dead("/c", old) || d.dead("/a/x", clock.Load()) {
		t.Fatal("dead() disagrees with the markers")
	}
	if left := d.reclaim(&clock); left != 2 {
		t.Fatalf("reclaimed markers an old object still needs: %d left", left)
	}
	d.unpin(old) // the object leaves the cache
	if left := d.reclaim(&clock); left != 0 {
		t.Fatalf("%d markers left with nothing older than them", left)
	}
}

func TestFreshness(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	def := behaviorOf(distribution.FromFile("E", &url.URL{Scheme: "http", Host: "o"}, nil, "", now))
	minTTL := def
	minTTL.minTTL = time.Hour
	zero := def // MinTTL = DefaultTTL = MaxTTL = 0
	zero.defaultTTL, zero.maxTTL = 0, 0
	for _, c := range []struct {
		b      *behavior
		status int
		kv     []string
		ttl    time.Duration
		ok     bool
	}{
		{&def, 200, nil, 24 * time.Hour, true},
		{&def, 200, []string{"Cache-Control", "max-age=60"}, time.Minute, true},
		{&def, 200, []string{"Cache-Control", "public, max-age=60, s-maxage=120"}, 2 * time.Minute, true},
		{&def, 200, []string{"Cache-Control", "max-age=999999999"}, 365 * 24 * time.Hour, true},
		{&def, 200, []string{"Cache-Control", "max-age=0"}, 0, true},
		{&def, 200, []string{"Cache-Control", "no-cache"}, 0, false},
		{&def, 200, []string{"Cache-Control", "no-store"}, 0, false},
		{&def, 200, []string{"Cache-Control", "private, max-age=60"}, 0, false},
		{&minTTL, 200, []string{"Cache-Control", "no-store"}, time.Hour, true},
		{&minTTL, 200, []string{"Cache-Control", "max-age=60"}, time.Hour, true},
		{&def, 200, []string{"Expires", now.Add(time.Hour).Format(http.TimeFormat)}, time.Hour, true},
		{&def, 200, []string{"Expires", "0"}, 0, true},
		{&def, 200, []string{"Expires", now.Add(time.Hour).Format(http.TimeFormat), "Cache-Control", "max-age=5"}, 5 * time.Second, true},
		{&def, 302, nil, 0, false},
		{&def, 302, []string{"Cache-Control", "max-age=5"}, 5 * time.Second, true},
		{&def, 301, nil, 24 * time.Hour, true},
		{&def, 404, nil, 10 * time.Second, true},
		{&def, 404, []string{"Cache-Control", "max-age=60"}, time.Minute, true},
		{&def, 404, []string{"Cache-Control", "max-age=5"}, 10 * time.Second, true}, // the greater of the two
		{&def, 404, []string{"Cache-Control", "max-age=999999999"}, 365 * 24 * time.Hour, true},
		{&def, 404, []string{"Cache-Control", "no-store"}, 0, false},
		{&def, 403, []string{"Cache-Control", "private"}, 0, false},
		{&def, 412, []string{"Cache-Control", "max-age=30"}, 30 * time.Second, true},
		{&def, 412, nil, 0, false},
		{&def, 418, nil, 0, false},
		{&def, 500, nil, 0, false},
		{&def, 503, []string{"Cache-Control", "max-age=60"}, 0, false},
		{&def, 206, nil, 0, false},
		// MaxTTL 0: nothing is cached, whatever the origin says.
		{&zero, 200, nil, 0, false},
		{&zero, 200, []string{"Cache-Control", "max-age=60"}, 0, false},
		{&zero, 200, []string{"Cache-Control", "public, s-maxage=60"}, 0, false},
		{&zero, 200, []string{"Expires", now.Add(time.Hour).Format(http.TimeFormat)}, 0, false},
		{&zero, 301, nil, 0, false},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(c.kv); i += 2 {
			h.Set(c.kv[i], c.kv[i+1])
		}
		ttl, ok := freshness(c.status, h, c.b, 10*time.Second, now)
		if ttl != c.ttl || ok != c.ok {
			t.Errorf("freshness(%d, %v, min %v) = %v %v, want %v %v", c.status, c.kv, c.b.minTTL, ttl, ok, c.ttl, c.ok)
		}
	}
	withErr := def
	withErr.errorTTL = []distribution.ErrorResponse{{ErrorCode: 503, ErrorCachingMinTTL: 30}}
	withErr.errorTTL = append(withErr.errorTTL, distribution.ErrorResponse{ErrorCode: 403, ErrorCachingMinTTL: 30}, distribution.ErrorResponse{ErrorCode: 404, ErrorCachingMinTTL: 0})
	for _, c := range []struct {
		status int
		kv     []string
		ttl    time.Duration
		ok     bool
	}{
		{503, nil, 30 * time.Second, true},
		{503, []string{"Cache-Control", "max-age=60"}, time.Minute, true},
		{503, []string{"Cache-Control", "no-store"}, 30 * time.Second, true}, // ignored on a 503
		{403, []string{"Cache-Control", "no-cache"}, 30 * time.Second, true}, // and on a 403
		{404, nil, 0, false}, // ErrorCachingMinTTL 0
		{404, []string{"Cache-Control", "max-age=60"}, time.Minute, true},
		{500, nil, 0, false},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(c.kv); i += 2 {
			h.Set(c.kv[i], c.kv[i+1])
		}
		if ttl, ok := freshness(c.status, h, &withErr, 10*time.Second, now); ttl != c.ttl || ok != c.ok {
			t.Errorf("configured: freshness(%d, %v) = %v %v, want %v %v", c.status, c.kv, ttl, ok, c.ttl, c.ok)
		}
	}
}

func TestByHost(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: "origin"}
	a := distribution.FromFile("EA", u, []string{"www.example.com", "*.example.com"}, "", time.Now())
	b := distribution.FromFile("EB", u, []string{"Shop.Example.Com"}, "", time.Now())
	r := distribution.NewRegistry(a, b)
	for host, want := range map[string]string{
		"www.example.com":              "EA",
		"WWW.EXAMPLE.COM:8080":         "EA",
		"shop.example.com":             "EB", // exact beats the wildcard
		"img.example.com.":             "EA", // wildcard
		"a.b.example.com":              "",   // one label only
		"example.com":                  "",
		"eb.cloudfront.localhost:4748": "EB",
		"":                             "",
	} {
		d, ok := r.ByHost(host)
		got := ""
		if ok {
			got = d.ID
		}
		if got != want {
			t.Errorf("ByHost(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestZeroTTLs checks that TTLs of 0 are taken as given, not as unset:
// a behavior whose MaxTTL is 0 is served uncached.
func TestZeroTTLs(t *testing.T) {
	d := distribution.FromFile("E", &url.URL{Scheme: "http", Host: "o"}, nil, "", time.Now())
	if b := behaviorOf(d); b.noCache || b.defaultTTL != 24*time.Hour || b.maxTTL != 365*24*time.Hour {
		t.Fatalf("defaults: noCache %v, TTLs %v / %v", b.noCache, b.defaultTTL, b.maxTTL)
	}
	d.Config.DefaultBehavior.MinTTL, d.Config.DefaultBehavior.DefaultTTL, d.Config.DefaultBehavior.MaxTTL = 0, 0, 0
	if b := behaviorOf(d); !b.noCache || b.defaultTTL != 0 || b.maxTTL != 0 {
		t.Fatalf("0/0/0: noCache %v, TTLs %v / %v", b.noCache, b.defaultTTL, b.maxTTL)
	}
	d.Config.DefaultBehavior.MaxTTL = 60 // DefaultTTL 0: revalidated, not uncached
	if b := behaviorOf(d); b.noCache {
		t.Fatal("0/0/60 is served uncached")
	}
}
