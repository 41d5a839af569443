package e2e

// The web console (/console/ on the API listener): its authentication over
// plain HTTP, and a headless Chromium driven by chromedp that signs in,
// sees a distribution, creates an invalidation through the form and
// watches it turn Completed as the edges apply it.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/chromedp/chromedp"
)

const consoleConfig = `distributions:
  - id: EDFDVBD6EXAMPLE
    origin: http://127.0.0.1:%d
    aliases: [www.console.test]
  - id: E2OTHERDIST000
    origin: http://127.0.0.1:9
credentials:
  - access_key_id: AKIDCONSOLE
    secret_access_key: console-secret
  - access_key_id: AKIDLIMITED
    secret_access_key: limited-secret
    distributions: [E2OTHERDIST000]
`

// consoleClient is a browser-like HTTP client: cookies, no redirects
// followed.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

func formToken(t *testing.T, page string) string {
	t.Helper()
	m := consoleCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token in:\n%s", page)
	}
	return m[1]
}

func (c *consoleClient) signIn(id, secret string) *http.Response {
	c.t.Helper()
	_, page := c.do("GET", "/console/signin", nil)
	resp, _ := c.do("POST", "/console/signin", url.Values{"csrf": {formToken(c.t, page)}, "access_key_id": {id}, "secret_access_key": {secret}})
	return resp
}

// TestConsoleAuth checks the console's sign-in, session cookie and form
// tokens over plain HTTP against the binary.
func TestConsoleAuth(t *testing.T) {
	s := startServer(t, options{config: fmt.Sprintf(consoleConfig, 9) + `  - access_key_id: AKIDOTHER
    secret_access_key: other-secret
`})
	c := newConsoleClient(t, s.URL)

	resp, _ := c.do("GET", "/console/", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin" {
		t.Fatalf("no cookie: %d to %q, want 303 to /console/signin", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = c.do("GET", "/console", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("/console: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ = c.do("GET", "/console/api/distributions/EDFDVBD6EXAMPLE/invalidations", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("JSON without a cookie: %d, want 401", resp.StatusCode)
	}
	// A forged session cookie is no session.
	c.c.Jar.SetCookies(mustParse(t, s.URL+"/console/"), []*http.Cookie{{Name: "openfront_console", Value: "forged", Path: "/console/"}})
	if resp, _ = c.do("GET", "/console/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d, want 303", resp.StatusCode)
	}

	for _, k := range [][2]string{{"AKIDCONSOLE", "wrong-secret"}, {"AKIDCONSOLE", ""}, {"AKIDNOBODY", "console-secret"}, {"AKIDCONSOLE", "other-secret"}} {
		resp := c.signIn(k[0], k[1])
		if resp.StatusCode != http.StatusUnauthorized || hasCookie(resp, "openfront_console") {
			t.Errorf("sign-in %s/%q: %d with cookies %q, want 401 and no session", k[0], k[1], resp.StatusCode, resp.Header.Values("Set-Cookie"))
		}
	}
	resp = c.signIn("AKIDCONSOLE", "console-secret")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var set string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "openfront_console=") {
			set = v
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/console/", "Max-Age=28800"} {
		if !strings.Contains(set, attr) {
			t.Errorf("session cookie %q lacks %s", set, attr)
		}
	}
	if token := strings.TrimPrefix(strings.SplitN(set, ";", 2)[0], "openfront_console="); len(token) < 43 {
		t.Errorf("session token %q is shorter than 32 random bytes", token)
	}
	resp, page := c.do("GET", "/console/distributions/EDFDVBD6EXAMPLE", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "www.console.test") {
		t.Fatalf("distribution page: %d\n%s", resp.StatusCode, page)
	}

	// Form posts need the session's token; without it nothing is created.
	api := s.client("AKIDCONSOLE", "console-secret")
	form := url.Values{"paths": {"/csrf"}, "caller_reference": {"csrf-1"}}
	for _, token := range []string{"", "forged", formToken(t, page)[1:]} {
		if token != "" {
			form.Set("csrf", token)
		}
		if resp, _ := c.do("POST", "/console/distributions/EDFDVBD6EXAMPLE/invalidations", form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("post with token %q: %d, want 403", token, resp.StatusCode)
		}
	}
	list, err := api.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil || *list.InvalidationList.Quantity != 0 {
		t.Fatalf("a form without its token created something: %v %v", err, list)
	}
	form.Set("csrf", formToken(t, page))
	resp, _ = c.do("POST", "/console/distributions/EDFDVBD6EXAMPLE/invalidations", form)
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/console/distributions/EDFDVBD6EXAMPLE/invalidations/")
	if resp.StatusCode != http.StatusSeeOther || id == "" {
		t.Fatalf("post with the token: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The API sees what the console created: one service, one store.
	got, err := api.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(id)})
	if err != nil || *got.Invalidation.InvalidationBatch.CallerReference != "csrf-1" {
		t.Fatalf("GetInvalidation of the console's: %v", err)
	}
	// The console's cookie is no credential for the API.
	req, _ := http.NewRequest("GET", s.URL+"/2020-05-31/distribution", nil)
	for _, ck := range c.c.Jar.Cookies(mustParse(t, s.URL+"/console/")) {
		req.AddCookie(ck)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("API with the console's cookie: %v %v, want 403", resp, err)
	}

	// A key limited to a distribution sees that one only.
	l := newConsoleClient(t, s.URL)
	if resp := l.signIn("AKIDLIMITED", "limited-secret"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("limited sign-in: %d", resp.StatusCode)
	}
	if _, page := l.do("GET", "/console/", nil); strings.Contains(page, "EDFDVBD6EXAMPLE") || !strings.Contains(page, "E2OTHERDIST000") {
		t.Errorf("limited key's list:\n%s", page)
	}
	for _, p := range []string{"/console/distributions/EDFDVBD6EXAMPLE", "/console/edges"} {
		if resp, _ := l.do("GET", p, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("limited key, GET %s: %d, want 403", p, resp.StatusCode)
		}
	}

	// Signing out ends the session on the server: the old cookie is dead.
	_, page = c.do("GET", "/console/", nil)
	old := c.c.Jar.Cookies(mustParse(t, s.URL+"/console/"))
	if resp, _ := c.do("POST", "/console/signout", url.Values{"csrf": {formToken(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	c.c.Jar.SetCookies(mustParse(t, s.URL+"/console/"), old)
	if resp, _ := c.do("GET", "/console/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie after signing out: %d, want 303", resp.StatusCode)
	}
}

func hasCookie(resp *http.Response, name string) bool {
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") && !strings.Contains(v, "Max-Age=0") {
			return true
		}
	}
	return false
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestConsoleOpenMode(t *testing.T) {
	s := startServer(t, options{})
	c := newConsoleClient(t, s.URL)
	resp, page := c.do("GET", "/console/", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, distID) || strings.Contains(page, "Sign out") {
		t.Fatalf("open mode: %d\n%s", resp.StatusCode, page)
	}
}

// chromiumPath finds the browser: $OPENFRONT_CHROMIUM, else chromium on
// the PATH (Debian's package), else Chrome.
func chromiumPath() string {
	if p := os.Getenv("OPENFRONT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// hostileComment is a distribution comment the console must show as text.
const hostileComment = `<img src=x onerror="document.title='pwned'"> & "quotes"`

// TestConsoleInBrowser drives the console in headless Chromium: sign in,
// see the distributions, create an invalidation through the form, watch
// it applied by one edge, pending on a stopped one, and Completed once
// that one is continued. With OPENFRONT_SCREENSHOTS=1 it writes the
// README's screenshots to docs/console-*.png.
func TestConsoleInBrowser(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("no chromium binary found (apt-get install -y chromium, or set OPENFRONT_CHROMIUM): the browser test of the console is skipped")
	}
	origin := newTestOrigin(t)
	origin.set("/index.html", "hello", "Cache-Control", "max-age=3600")
	// A long edge timeout: edge-b, stopped below, must stay in the
	// registry however slow the machine.
	s := startServer(t, options{config: fmt.Sprintf(consoleConfig, origin.port), args: []string{"--edge-timeout", "5m", "--metrics-addr", "127.0.0.1:0"}})
	keyEnv := []string{"OPENFRONT_ACCESS_KEY_ID=AKIDCONSOLE", "OPENFRONT_SECRET_ACCESS_KEY=console-secret"}
	remote := startEdge(t, s.URL, "edge-b", keyEnv, "--max-staleness", "10s")

	api := s.client("AKIDCONSOLE", "console-secret")
	cfg := minimalConfig("console-hostile")
	cfg.Comment = aws.String(hostileComment)
	hostile, err := createDist(t, api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hostileID := *hostile.Distribution.Id
	// Both edges serve the file's distribution: edge-b is caught up.
	for _, edgeURL := range []string{s.EdgeURL, remote.URL} {
		fleetWaitFor(t, 30*time.Second, "the edge serves the distribution", func() (bool, string) {
			r := viewEdge(edgeURL, "www.console.test", "/index.html")
			return r.err == nil && r.status == 200, r.String()
		})
	}

	// Hits after the miss: the page's cache statistics, read from the
	// metrics (--metrics-addr), have both kinds.
	for range 3 {
		if r := viewEdge(s.EdgeURL, "www.console.test", "/index.html"); r.err != nil || r.status != 200 {
			t.Fatalf("viewer request: %s", r)
		}
	}

	shots := t.TempDir()
	if os.Getenv("OPENFRONT_SCREENSHOTS") != "" {
		shots = "../docs"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// Start the browser on bctx, not on a step's shorter context.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	// Each step waits on its condition for a minute at most.
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s: %d bytes", name, len(png))
	}

	// Signed out: the console sends the browser to sign in.
	do("open the console", chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible(chromedp.ID("access_key_id")))
	do("a wrong secret",
		chromedp.SendKeys(chromedp.ID("access_key_id"), "AKIDCONSOLE"),
		chromedp.SendKeys(chromedp.ID("secret_access_key"), "not-the-secret"),
		chromedp.Submit(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signin-error")))
	if got := text("#signin-error"); got != "The access key id or the secret key is wrong." {
		t.Fatalf("sign-in error %q", got)
	}
	// The key id is kept; the secret is not.
	if v, err := chromedp.Run(bctx, chromedp.Value(chromedp.ID("access_key_id"))); err != nil || v != "AKIDCONSOLE" {
		t.Errorf("key id after a refused sign-in: %q %v", v, err)
	}
	do("sign in",
		chromedp.SendKeys(chromedp.ID("secret_access_key"), "console-secret"),
		chromedp.Submit(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(`#distributions tr[data-id="EDFDVBD6EXAMPLE"]`)))
	if got := text(`#distributions tr[data-id="EDFDVBD6EXAMPLE"] td.status`); got != "Deployed" {
		t.Errorf("status in the list: %q", got)
	}
	// The hostile comment is text, not markup.
	do("the hostile distribution", chromedp.WaitVisible(chromedp.CSS(`#distributions tr[data-id="`+hostileID+`"]`)))
	comment, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#distributions tr[data-id="`+hostileID+`"] td.comment').textContent`))
	if err != nil || comment != hostileComment {
		t.Errorf("comment shown as %q (%v), want the text %q", comment, err, hostileComment)
	}
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("main img").length`)); err != nil || n != 0 {
		t.Errorf("the comment made %d img elements (%v)", n, err)
	}
	shot("console-distributions.png")

	// The distribution: domain, aliases, origins, behaviors.
	do("open the distribution",
		chromedp.Click(chromedp.CSS(`#distributions tr[data-id="EDFDVBD6EXAMPLE"] a`)),
		chromedp.WaitVisible(chromedp.ID("create-invalidation")))
	if got := text("#dist-status"); got != "Deployed" {
		t.Errorf("distribution status %q", got)
	}
	body := text("main")
	for _, want := range []string{"edfdvbd6example.cloudfront.localhost", "www.console.test", fmt.Sprintf("http://127.0.0.1:%d", origin.port), "Default (*)", "Cache hit ratio", "Origin latency"} {
		if !strings.Contains(body, want) {
			t.Errorf("distribution page lacks %q:\n%s", want, body)
		}
	}

	// A rule of the invalidation Service, shown as the API words it.
	do("an invalid path",
		chromedp.SendKeys(chromedp.ID("paths"), "index.html"),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("form-error")))
	if got := text("#form-error"); got != "InvalidArgument: Your request contains one or more invalid invalidation paths." {
		t.Errorf("form error %q", got)
	}

	// Stop edge-b: the invalidation is applied by the in-process edge
	// and waits for edge-b.
	remote.pause()
	paused := true
	defer func() {
		if paused {
			remote.resume()
		}
	}()
	clear := func(id string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(document.getElementById("`+id+`").value = "", true)`)); err != nil {
			t.Fatalf("clearing %s: %v", id, err)
		}
	}
	clear("paths")
	do("create an invalidation",
		chromedp.SendKeys(chromedp.ID("paths"), "/index.html\n/images/*"),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("inv-status")))
	invID := text("#inv-id")
	if got := text("#inv-status"); got != "InProgress" {
		t.Fatalf("a new invalidation with a stopped edge is %q", got)
	}
	do("the in-process edge applied it", chromedp.WaitVisible(chromedp.CSS(`#edges-progress tr[data-edge="local"] td.ok`)))
	if got := text(`#edges-progress tr[data-edge="edge-b"]`); !strings.Contains(got, "pending") {
		t.Errorf("edge-b's progress while stopped: %q", got)
	}
	if got := text("#progress-note"); got != "1 of 2 edges applied it." {
		t.Errorf("progress note %q", got)
	}
	shot("console-invalidation.png")

	// Continue edge-b: it applies the invalidation and the page, which
	// polls, turns Completed without a reload.
	remote.resume()
	paused = false
	do("Completed", chromedp.WaitVisible(chromedp.CSS(`#inv-status.Completed`)))
	do("edge-b applied it", chromedp.WaitVisible(chromedp.CSS(`#edges-progress tr[data-edge="edge-b"] td.ok`)))
	if got := text("#inv-completed"); got == "–" {
		t.Errorf("no completion time shown")
	}
	if got, err := chromedp.Run(bctx, chromedp.Location()); err != nil || !strings.HasSuffix(got, "/invalidations/"+invID) {
		t.Errorf("the page was left: %q %v", got, err)
	}
	// The API agrees.
	inv, err := api.GetInvalidation(ctx, &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(invID)})
	if err != nil || *inv.Invalidation.Status != "Completed" || *inv.Invalidation.InvalidationBatch.Paths.Quantity != 2 {
		t.Fatalf("GetInvalidation: %v %v", inv, err)
	}
	// And the edges really purged: the next viewer request is a miss.
	if r := viewEdge(s.EdgeURL, "www.console.test", "/index.html"); r.xcache != "Miss from cloudfront" {
		t.Errorf("after the invalidation the in-process edge answers %s", r)
	}

	// The distribution's list shows it Completed.
	do("the distribution's invalidations",
		chromedp.Navigate(s.URL+"/console/distributions/"+distID),
		chromedp.WaitVisible(chromedp.CSS(`#invalidations tr[data-id="`+invID+`"] td.status.Completed`)))
	shot("console-distribution.png")

	// The edge registry.
	do("the edges", chromedp.Navigate(s.URL+"/console/edges"), chromedp.WaitVisible(chromedp.CSS(`#edges tr[data-edge="edge-b"]`)))
	for _, name := range []string{"local", "edge-b"} {
		if row := text(`#edges tr[data-edge="` + name + `"]`); !strings.Contains(row, "yes") {
			t.Errorf("edge %s: %q", name, row)
		}
	}
	shot("console-edges.png")

	// Sign out.
	do("sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("access_key_id")))
	do("signed out", chromedp.Navigate(s.URL+"/console/edges"), chromedp.WaitVisible(chromedp.ID("access_key_id")))
}
