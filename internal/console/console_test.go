package console

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

// A prometheus.Gatherer (a *prometheus.Registry) is what the console takes.
var _ Gatherer = prometheus.Gatherer(nil)

// regDists serves distribution.Service's reads from a registry.
type regDists struct{ *distribution.Registry }

func (r regDists) Get(id string) (distribution.Distribution, error) {
	d, ok := r.Registry.Get(id)
	if !ok {
		return distribution.Distribution{}, distribution.ErrNoSuchDistribution
	}
	return *d, nil
}

func (r regDists) List(marker string, max int) ([]distribution.Distribution, string) {
	var out []distribution.Distribution
	for _, d := range r.All() {
		if d.ID > marker {
			out = append(out, *d)
		}
	}
	return out, ""
}

// fakeFleet is a hub's admin view with fixed answers.
type fakeFleet struct {
	mu     sync.Mutex
	status fleet.Status
	events map[string]fleet.EventStatus
}

func (f *fakeFleet) Status() fleet.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeFleet) EventStatus(key string) (fleet.EventStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.events[key]
	return s, ok
}

// held never completes an invalidation, so that it stays InProgress.
type held struct{}

func (held) Apply(ctx context.Context, _ invalidation.Invalidation) error {
	<-ctx.Done()
	return ctx.Err()
}

const hostileComment = `<script>alert("comment")</script>`

type fixture struct {
	srv   *httptest.Server
	inv   *invalidation.Service
	fleet *fakeFleet
}

func newFixture(t *testing.T, keys map[string]Key, metrics Gatherer, now func() time.Time) *fixture {
	t.Helper()
	suffix := "cloudfront.localhost"
	origin, _ := url.Parse("http://127.0.0.1:9/base")
	a := distribution.FromFile("EAAAAAAAAAAAA", origin, []string{"www.example.com"}, suffix, time.Now())
	a.Config.Comment = hostileComment
	b := distribution.FromFile("EBBBBBBBBBBBB", origin, nil, suffix, time.Now())
	reg := distribution.NewRegistry(a, b)
	svc := invalidation.NewService(invalidation.Config{Store: memory.New(), Distributions: reg, Applier: held{}})
	t.Cleanup(svc.Close)
	ff := &fakeFleet{events: map[string]fleet.EventStatus{}}
	cs := New(Config{Distributions: regDists{reg}, Invalidations: svc, Fleet: ff, Metrics: metrics, Keys: keys,
		EdgeTimeout: 30 * time.Second, Now: now, MaxSessions: 2, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(Mount(cs, http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, inv: svc, fleet: ff}
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(method, path string, form url.Values) (int, http.Header, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(text)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token in the page:\n%s", page)
	}
	return m[1]
}

func (b *browser) signIn(id, secret string) int {
	b.t.Helper()
	_, _, page := b.do("GET", "/console/signin", nil)
	code, _, _ := b.do("POST", "/console/signin", url.Values{"csrf": {csrfOf(b.t, page)}, "access_key_id": {id}, "secret_access_key": {secret}})
	return code
}

var keys = map[string]Key{
	"AKIDADMIN":   {Secret: "admin-secret"},
	"AKIDLIMITED": {Secret: "limited-secret", Distributions: []string{"EBBBBBBBBBBBB"}},
}

func TestSignInAndSessions(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, keys, nil, clock)
	b := newBrowser(t, f.srv.URL)

	if code, h, _ := b.do("GET", "/console/", nil); code != http.StatusSeeOther || h.Get("Location") != "/console/signin" {
		t.Fatalf("without a session: %d to %q, want 303 to the sign-in", code, h.Get("Location"))
	}
	if code, _, _ := b.do("GET", "/console/api/distributions/EAAAAAAAAAAAA/invalidations", nil); code != http.StatusUnauthorized {
		t.Fatalf("JSON without a session: %d, want 401", code)
	}
	if code, _, _ := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations", url.Values{"paths": {"/x"}, "caller_reference": {"r0"}}); code != http.StatusUnauthorized {
		t.Fatalf("POST without a session: %d, want 401", code)
	}
	if page, _ := f.inv.List(context.Background(), "EAAAAAAAAAAAA", "", 10); len(page.Items) != 0 {
		t.Fatalf("a POST without a session created %v", page.Items)
	}
	if code := b.signIn("AKIDADMIN", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d, want 401", code)
	}
	if code := b.signIn("AKIDNOBODY", ""); code != http.StatusUnauthorized {
		t.Fatalf("unknown key, empty secret: %d, want 401", code)
	}
	// The sign-in form's own token is required.
	if code, _, _ := b.do("POST", "/console/signin", url.Values{"access_key_id": {"AKIDADMIN"}, "secret_access_key": {"admin-secret"}}); code != http.StatusForbidden {
		t.Fatalf("sign-in without the form's token: %d, want 403", code)
	}
	if code := b.signIn("AKIDADMIN", "admin-secret"); code != http.StatusSeeOther {
		t.Fatalf("right secret: %d, want 303", code)
	}
	var cookie *http.Cookie
	for _, c := range b.c.Jar.Cookies(mustURL(f.srv.URL + "/console/")) {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	code, h, page := b.do("GET", "/console/", nil)
	if code != http.StatusOK || !strings.Contains(page, "EAAAAAAAAAAAA") {
		t.Fatalf("signed in: %d\n%s", code, page)
	}
	if sc := h.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("a page set cookies: %q", sc)
	}

	// A form post needs the session's token.
	form := url.Values{"paths": {"/x"}, "caller_reference": {"r1"}}
	if code, _, _ := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations", form); code != http.StatusForbidden {
		t.Fatalf("post without the form token: %d, want 403", code)
	}
	form.Set("csrf", "x"+csrfOf(t, page))
	if code, _, _ := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations", form); code != http.StatusForbidden {
		t.Fatalf("post with a wrong form token: %d, want 403", code)
	}
	form.Set("csrf", csrfOf(t, page))
	if code, h, _ := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations", form); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/distributions/EAAAAAAAAAAAA/invalidations/I") {
		t.Fatalf("post with the form token: %d to %q", code, h.Get("Location"))
	}

	// Sessions expire.
	mu.Lock()
	now = now.Add(DefaultSessionTTL)
	mu.Unlock()
	if code, _, _ := b.do("GET", "/console/", nil); code != http.StatusSeeOther {
		t.Fatalf("after the session's TTL: %d, want 303", code)
	}

	// The table is bounded (MaxSessions 2 here): a third sign-in ends
	// the session closest to expiry.
	b1, b2, b3 := newBrowser(t, f.srv.URL), newBrowser(t, f.srv.URL), newBrowser(t, f.srv.URL)
	for i, bb := range []*browser{b1, b2, b3} {
		if code := bb.signIn("AKIDADMIN", "admin-secret"); code != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d", i, code)
		}
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
	}
	for i, want := range []int{http.StatusSeeOther, http.StatusOK, http.StatusOK} {
		if code, _, _ := []*browser{b1, b2, b3}[i].do("GET", "/console/", nil); code != want {
			t.Errorf("session %d: %d, want %d", i, code, want)
		}
	}

	// Signing out ends the session server-side.
	_, _, page = b3.do("GET", "/console/", nil)
	if code, _, _ := b3.do("POST", "/console/signout", url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", code)
	}
	if code, _, _ := b3.do("GET", "/console/", nil); code != http.StatusSeeOther {
		t.Fatalf("after signing out: %d, want 303", code)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestLimitedKeySeesItsDistributions(t *testing.T) {
	f := newFixture(t, keys, nil, nil)
	b := newBrowser(t, f.srv.URL)
	if code := b.signIn("AKIDLIMITED", "limited-secret"); code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	_, _, page := b.do("GET", "/console/", nil)
	if !strings.Contains(page, "EBBBBBBBBBBBB") || strings.Contains(page, "EAAAAAAAAAAAA") {
		t.Fatalf("a limited key's list:\n%s", page)
	}
	if strings.Contains(page, `href="/console/edges"`) {
		t.Error("a limited key is offered the edge registry")
	}
	for _, path := range []string{"/console/distributions/EAAAAAAAAAAAA", "/console/edges",
		"/console/api/distributions/EAAAAAAAAAAAA/invalidations"} {
		if code, _, _ := b.do("GET", path, nil); code != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403", path, code)
		}
	}
	form := url.Values{"csrf": {csrfOf(t, page)}, "paths": {"/x"}, "caller_reference": {"r"}}
	if code, _, _ := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations", form); code != http.StatusForbidden {
		t.Errorf("create on another distribution: %d, want 403", code)
	}
	if code, _, _ := b.do("POST", "/console/distributions/EBBBBBBBBBBBB/invalidations", form); code != http.StatusSeeOther {
		t.Errorf("create on its distribution: %d, want 303", code)
	}
}

func TestOpenModeHasNoSignIn(t *testing.T) {
	f := newFixture(t, nil, nil, nil)
	b := newBrowser(t, f.srv.URL)
	code, _, page := b.do("GET", "/console/", nil)
	if code != http.StatusOK || !strings.Contains(page, "EAAAAAAAAAAAA") || strings.Contains(page, "Sign out") {
		t.Fatalf("open mode: %d\n%s", code, page)
	}
	if code, h, _ := b.do("GET", "/console/signin", nil); code != http.StatusSeeOther || h.Get("Location") != "/console/" {
		t.Fatalf("open mode's sign-in: %d to %q", code, h.Get("Location"))
	}
	// Forms still carry a token other sites cannot read.
	form := url.Values{"paths": {"/x"}, "caller_reference": {"r"}}
	if code, _, _ := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations", form); code != http.StatusForbidden {
		t.Fatalf("open mode, no token: %d, want 403", code)
	}
	_, _, page = b.do("GET", "/console/distributions/EAAAAAAAAAAAA", nil)
	form.Set("csrf", csrfOf(t, page))
	if code, _, _ := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations", form); code != http.StatusSeeOther {
		t.Fatalf("open mode, token: %d, want 303", code)
	}
}

// The form goes through the invalidation Service: its rules and error
// messages are the API's, shown with the user's input kept.
func TestCreateInvalidationErrors(t *testing.T) {
	f := newFixture(t, nil, nil, nil)
	b := newBrowser(t, f.srv.URL)
	_, _, page := b.do("GET", "/console/distributions/EAAAAAAAAAAAA", nil)
	token := csrfOf(t, page)
	post := func(paths, ref string) (int, string) {
		code, _, page := b.do("POST", "/console/distributions/EAAAAAAAAAAAA/invalidations",
			url.Values{"csrf": {token}, "paths": {paths}, "caller_reference": {ref}})
		return code, page
	}
	many := strings.Repeat("/p\n", 3001)
	for _, c := range []struct {
		paths, ref string
		status     int
		want       string
	}{
		{"no-slash", "r1", 400, "<strong>InvalidArgument</strong>: Your request contains one or more invalid invalidation paths."},
		{"\n\n", "r2", 400, "<strong>InvalidArgument</strong>: Your request must contain at least one invalidation path."},
		{"/a", "", 400, "<strong>InvalidArgument</strong>: The parameter CallerReference is required and must not be empty."},
		{many, "r3", 413, "<strong>BatchTooLarge</strong>: Your request contains 3001 invalidation paths; the maximum in one batch is 3000."},
		{"/a*/b", "r4", 400, "invalid invalidation paths"},
	} {
		code, page := post(c.paths, c.ref)
		if code != c.status || !strings.Contains(page, c.want) {
			t.Errorf("paths %.20q: %d, want %d with %q", c.paths, code, c.status, c.want)
		}
	}
	// The user's input stays in the form, escaped.
	code, page := post("/ok\n</textarea><b>x", "keep-me")
	if code != 400 || !strings.Contains(page, "&lt;/textarea&gt;&lt;b&gt;x") || !strings.Contains(page, `value="keep-me"`) {
		t.Errorf("the form lost or did not escape the input: %d\n%s", code, page)
	}
	// Same CallerReference, other paths: the API's conflict.
	if code, _ := post("/one", "same"); code != http.StatusSeeOther {
		t.Fatalf("first create: %d", code)
	}
	code, page = post("/two", "same")
	if code != http.StatusConflict || !strings.Contains(page, "<strong>InvalidationBatchAlreadyExists</strong>: Your request contains a caller reference that was used for a previous invalidation batch for the same distribution.") {
		t.Errorf("reused CallerReference: %d", code)
	}
	// A form larger than MaxFormBytes is refused, not read.
	code, _ = post(strings.Repeat("/p", MaxFormBytes), "big")
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("a form over MaxFormBytes: %d, want 413", code)
	}
	// TooManyInvalidationsInProgress: 15 wildcards at most in progress.
	var code2 int
	for i := range 16 {
		code2, page = post("/w*", "w"+string(rune('a'+i)))
	}
	if code2 != 400 || !strings.Contains(page, "TooManyInvalidationsInProgress") {
		t.Errorf("16th wildcard in progress: %d", code2)
	}
}

func TestEscaping(t *testing.T) {
	f := newFixture(t, nil, nil, nil)
	b := newBrowser(t, f.srv.URL)
	path := `/"><img src=x onerror=alert(1)>`
	inv, _, err := f.inv.Create(context.Background(), "EAAAAAAAAAAAA", invalidation.Batch{CallerReference: "<ref>", Paths: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/console/", "/console/distributions/EAAAAAAAAAAAA", "/console/distributions/EAAAAAAAAAAAA/invalidations/" + inv.ID} {
		_, h, page := b.do("GET", p, nil)
		for _, raw := range []string{hostileComment, "<img src=x", "<ref>"} {
			if strings.Contains(page, raw) {
				t.Errorf("%s carries %q unescaped", p, raw)
			}
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: no CSP", p)
		}
	}
	_, _, page := b.do("GET", "/console/", nil)
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;comment&#34;)&lt;/script&gt;") {
		t.Errorf("the comment is not shown escaped:\n%s", page)
	}
	_, _, page = b.do("GET", "/console/distributions/EAAAAAAAAAAAA/invalidations/"+inv.ID, nil)
	if !strings.Contains(page, "/&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the path is not shown escaped:\n%s", page)
	}
	// Unknown ids are not reflected raw either.
	_, _, page = b.do("GET", "/console/distributions/%3Cb%3E", nil)
	if strings.Contains(page, "<b>") {
		t.Error("an unknown id is reflected unescaped")
	}
}

func TestProgressFromTheHub(t *testing.T) {
	f := newFixture(t, nil, nil, nil)
	b := newBrowser(t, f.srv.URL)
	inv, _, err := f.inv.Create(context.Background(), "EAAAAAAAAAAAA", invalidation.Batch{CallerReference: "p", Paths: []string{"/a"}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.fleet.mu.Lock()
	f.fleet.events[fleet.InvalidationKey(inv.DistributionID, inv.ID)] = fleet.EventStatus{Position: 7, Kind: "invalidation",
		Applied: map[string]time.Time{"edge-a": at}, Pending: []string{"edge-b"}}
	f.fleet.mu.Unlock()
	code, _, body := b.do("GET", "/console/api/distributions/EAAAAAAAAAAAA/invalidations/"+inv.ID, nil)
	want := `"status":"InProgress"`
	if code != 200 || !strings.Contains(body, want) ||
		!strings.Contains(body, `"progress":{"tracked":true,"applied":1,"pending":1,"edges":[{"name":"edge-a","applied":true,"at":"2026-12-01T10:00:00Z"},{"name":"edge-b","applied":false}]}`) {
		t.Fatalf("progress JSON: %d %s", code, body)
	}
	_, _, body = b.do("GET", "/console/api/distributions/EAAAAAAAAAAAA/invalidations", nil)
	if !strings.Contains(body, `"applied":1,"pending":1`) {
		t.Fatalf("list JSON: %s", body)
	}
	_, _, page := b.do("GET", "/console/distributions/EAAAAAAAAAAAA/invalidations/"+inv.ID, nil)
	if !strings.Contains(page, "1 of 2 edges applied it.") || !strings.Contains(page, `data-poll="/console/api/distributions/EAAAAAAAAAAAA/invalidations/`+inv.ID+`"`) {
		t.Fatalf("progress page:\n%s", page)
	}
}

func TestEdges(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f := newFixture(t, nil, nil, func() time.Time { return now })
	f.fleet.status = fleet.Status{Head: 40, Edges: []fleet.EdgeStatus{
		{Name: "edge-a", Addr: "http://a", Connected: true, LastSeen: now.Add(-time.Second), Applied: 40},
		{Name: "edge-b", Addr: "http://b", Connected: true, LastSeen: now.Add(-5 * time.Second), Applied: 38, Lag: 2},
		{Name: "edge-c", Addr: "http://c", LastSeen: now.Add(-20 * time.Second), Applied: 30, Lag: 10},
	}, Removed: []fleet.RemovedEdge{{Name: "edge-d", At: now.Add(-time.Minute), Applied: 3, Reason: "silent for 30s"}}}
	_, _, page := newBrowser(t, f.srv.URL).do("GET", "/console/edges", nil)
	for _, want := range []string{
		`<td>38</td><td>2</td><td>5s ago</td>` + "\n" + `  <td class="late">late</td>`,
		`<td>40</td><td>0</td><td>1s ago</td>` + "\n" + `  <td class="ok">ok</td>`,
		`<td>30</td><td>10</td><td>20s ago</td>` + "\n" + `  <td class="stale">stale</td>`,
		"silent for 30s", `<strong id="head">40</strong>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("edges page lacks %q:\n%s", want, page)
		}
	}
}

func edgeMetrics(t *testing.T) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openfront_edge_requests_total", Help: "viewer requests"},
		[]string{"distribution", "result"})
	origin := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "openfront_edge_origin_duration_seconds", Help: "origin fetches",
		Buckets: prometheus.DefBuckets}, []string{"distribution"})
	reg.MustRegister(requests, origin)
	requests.WithLabelValues("EAAAAAAAAAAAA", "Hit").Add(6)
	requests.WithLabelValues("EAAAAAAAAAAAA", "RefreshHit").Add(2)
	requests.WithLabelValues("EAAAAAAAAAAAA", "Miss").Add(1)
	requests.WithLabelValues("EAAAAAAAAAAAA", "Error").Add(1)
	requests.WithLabelValues("EBBBBBBBBBBBB", "Miss").Add(3)
	for _, s := range []float64{0.01, 0.02, 0.03, 0.2} {
		origin.WithLabelValues("EAAAAAAAAAAAA").Observe(s)
	}
	return reg
}

func TestCacheStatsFromMetrics(t *testing.T) {
	reg := edgeMetrics(t)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	all := cacheStatsByDistribution(families)
	a := all["EAAAAAAAAAAAA"]
	if a.Requests != 10 || a.Hits != 8 || a.HitRatio() != 0.8 {
		t.Errorf("A: %+v, hit ratio %v", a, a.HitRatio())
	}
	// Mean: (0.01+0.02+0.03+0.2)/4; p50: rank 2 of 4 falls in the
	// (0.01, 0.025] bucket, which holds 1 of the 2 below it: 0.025.
	if math.Abs(a.MeanOrigin()-0.065) > 1e-9 || math.Abs(a.P50-0.025) > 1e-9 {
		t.Errorf("A: mean %v, p50 %v", a.MeanOrigin(), a.P50)
	}
	bb := all["EBBBBBBBBBBBB"]
	if bb.Requests != 3 || bb.HitRatio() != 0 || !math.IsNaN(bb.MeanOrigin()) || !math.IsNaN(bb.P50) {
		t.Errorf("B: %+v", bb)
	}

	f := newFixture(t, nil, reg, nil)
	b := newBrowser(t, f.srv.URL)
	_, _, page := b.do("GET", "/console/distributions/EAAAAAAAAAAAA", nil)
	if !strings.Contains(page, `<dd id="hit-ratio">80.0 %</dd>`) || !strings.Contains(page, `<dd id="origin-latency">mean 65ms, p50 25ms</dd>`) {
		t.Errorf("distribution page's statistics:\n%s", page)
	}
	_, _, page = b.do("GET", "/console/", nil)
	if !strings.Contains(page, "<td>10</td><td>80.0 %</td><td>65ms / 25ms</td>") || !strings.Contains(page, "<td>3</td><td>0.0 %</td><td>– / –</td>") {
		t.Errorf("list's statistics:\n%s", page)
	}
}

func TestMetricsNotEnabled(t *testing.T) {
	f := newFixture(t, nil, nil, nil)
	b := newBrowser(t, f.srv.URL)
	_, _, page := b.do("GET", "/console/distributions/EAAAAAAAAAAAA", nil)
	if !strings.Contains(page, "Metrics not enabled.") {
		t.Errorf("no gatherer, page:\n%s", page)
	}
	_, _, page = b.do("GET", "/console/", nil)
	if !strings.Contains(page, "metrics not enabled") || strings.Contains(page, "Hit ratio") {
		t.Errorf("no gatherer, list:\n%s", page)
	}
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		bs   []bucket
		want float64
	}{
		{[]bucket{{1, 0}, {2, 0}, {inf, 0}}, math.NaN()},
		{[]bucket{{1, 2}, {2, 4}, {inf, 4}}, 1},   // rank 2: top of the first
		{[]bucket{{1, 0}, {2, 4}, {inf, 4}}, 1.5}, // rank 2 in (1, 2]
		{[]bucket{{1, 0}, {2, 1}, {inf, 4}}, 2},   // rank in +Inf: the highest bound
		{[]bucket{{0.5, 4}, {inf, 4}}, 0.25},      // the first bucket starts at 0
	} {
		got := quantile(0.5, c.bs)
		if !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("quantile(0.5, %v) = %v, want %v", c.bs, got, c.want)
		}
	}
}
