package e2e

import (
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

const logFieldsLine = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"

// logLine is one access log line by field name.
type logLine map[string]string

// readAccessLogs reads every log file under dir: file name (relative to
// dir) -> lines. Each must be a whole gzip stream with the two header
// lines.
func readAccessLogs(t *testing.T, dir string) map[string][]logLine {
	t.Helper()
	names := strings.Fields(strings.TrimPrefix(logFieldsLine, "#Fields: "))
	out := map[string][]logLine{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: not a whole gzip stream: %v", rel, err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) < 2 || lines[0] != "#Version: 1.0" || lines[1] != logFieldsLine {
			t.Fatalf("%s: header %q", rel, lines[:min(len(lines), 2)])
		}
		for _, l := range lines[2:] {
			vals := strings.Split(l, "\t")
			if len(vals) != len(names) {
				t.Fatalf("%s: %d fields in %q", rel, len(vals), l)
			}
			m := logLine{}
			for i, n := range names {
				m[n] = vals[i]
			}
			out[rel] = append(out[rel], m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var logFileName = regexp.MustCompile(`^(?:(.+)/)?([A-Z0-9]+)\.(\d{4}-\d{2}-\d{2}-\d{2})\.([A-Z0-9]{11})\.gz$`)

// viewer sends a GET for a distribution with extra headers (name, value...)
// and returns the response (body read).
func viewer(t *testing.T, edgeURL, host, target string, kv ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", edgeURL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := viewerClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func withLogging(cfg *types.DistributionConfig, cookies bool, prefix string) *types.DistributionConfig {
	cfg.Logging = &types.LoggingConfig{Enabled: aws.Bool(true), IncludeCookies: aws.Bool(cookies),
		Bucket: aws.String("logs.s3.amazonaws.com"), Prefix: aws.String(prefix)}
	return cfg
}

// TestAccessLogs: hits, misses and errors of distributions created through
// the API with Logging (a prefix, cookies on and off) and of one from the
// configuration file, SIGTERM, then the gzip files: names, prefixes,
// header lines, fields. A request for an unknown Host is in no file but
// in a debug line, as every API request is.
func TestAccessLogs(t *testing.T) {
	o := newTestOrigin(t)
	o.set("/a", "object a", "Content-Type", "text/plain", "Cache-Control", "max-age=3600")
	o.set("/a?x=1", "object a x", "Content-Type", "text/plain", "Cache-Control", "max-age=3600")
	logDir := filepath.Join(t.TempDir(), "logs")
	s := startServer(t, options{args: []string{"--access-log-dir", logDir, "--log-level", "debug"}})
	c := s.client("", "")

	withCookies := createEdgeDist(t, c, withLogging(edgeConfig("log-a", legacyBehavior("o", true), o.origin("o")), true, "cdn/a"))
	noCookies := createEdgeDist(t, c, withLogging(edgeConfig("log-b", legacyBehavior("o", true), o.origin("o")), false, "b/"))
	if _, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String("ENOSUCHDIST")}); err == nil {
		t.Fatal("GetDistribution of an unknown Id succeeded")
	}

	ua := "Mozilla/5.0 (X11; Linux x86_64) test's \"agent\""
	miss := viewer(t, s.EdgeURL, withCookies.domain, "/a", "User-Agent", ua, "Cookie", "session=abc; theme=dark", "Referer", "http://www.example.com/page")
	hit := viewer(t, s.EdgeURL, withCookies.domain, "/a", "User-Agent", ua, "Cookie", "session=abc; theme=dark")
	query := viewer(t, s.EdgeURL, withCookies.domain, "/a?x=1", "X-Forwarded-For", "203.0.113.7")
	notFound := viewer(t, s.EdgeURL, withCookies.domain, "/missing%20file")
	other := viewer(t, s.EdgeURL, noCookies.domain, "/a", "Cookie", "session=abc")
	fileDomain := strings.ToLower(distID) + ".cloudfront.localhost"
	fileDist := viewer(t, s.EdgeURL, fileDomain, "/down") // origin 127.0.0.1:9: refused
	unknown := viewer(t, s.EdgeURL, "nobody.example", "/a")
	for _, r := range []struct {
		resp   *http.Response
		status int
		xcache string
	}{{miss, 200, "Miss"}, {hit, 200, "Hit"}, {query, 200, "Miss"}, {notFound, 404, "Error"}, {other, 200, "Miss"}, {fileDist, 502, "Error"}, {unknown, 403, "Error"}} {
		if r.resp.StatusCode != r.status || r.resp.Header.Get("X-Cache") != r.xcache+" from cloudfront" {
			t.Fatalf("%s: %d %s, want %d %s", r.resp.Request.URL, r.resp.StatusCode, r.resp.Header.Get("X-Cache"), r.status, r.xcache)
		}
	}
	// Debug lines: every API request, the refused viewer request.
	for _, want := range []string{
		`msg="api request" operation=CreateDistribution status=201`,
		`msg="api request" operation=GetDistribution status=404 error_code=NoSuchDistribution`,
		`msg="viewer request refused" reason="no distribution for the Host header" status=403 host=nobody.example`,
	} {
		if !s.logged(want) {
			t.Errorf("no log line with %s", want)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.stderr)
	}

	files := readAccessLogs(t, logDir)
	byID := map[string][]logLine{}
	for name, lines := range files {
		m := logFileName.FindStringSubmatch(filepath.ToSlash(name))
		if m == nil {
			t.Fatalf("file name %q", name)
		}
		wantPrefix := map[string]string{withCookies.id: "cdn/a", noCookies.id: "b", distID: ""}[m[2]]
		if m[1] != wantPrefix || m[3] != time.Now().UTC().Format("2006-01-02-15") && m[3] != time.Now().Add(-time.Hour).UTC().Format("2006-01-02-15") {
			t.Errorf("file %q: prefix %q hour %s", name, m[1], m[3])
		}
		byID[m[2]] = append(byID[m[2]], lines...)
	}
	if len(byID) != 3 || len(byID[withCookies.id]) != 4 || len(byID[noCookies.id]) != 1 || len(byID[distID]) != 1 {
		t.Fatalf("lines by distribution: %d files %v", len(files), byID)
	}
	// Lines are not in time order (as CloudFront's): find each by its
	// request id.
	a := map[string]logLine{}
	for _, l := range byID[withCookies.id] {
		a[l["x-edge-request-id"]] = l
	}
	check := func(l logLine, field, want string) {
		t.Helper()
		if l[field] != want {
			t.Errorf("%s: %s = %q, want %q (line %v)", l["cs-uri-stem"], field, l[field], want, l)
		}
	}
	encUA := "Mozilla/5.0%20(X11;%20Linux%20x86_64)%20test%27s%20%22agent%22"
	for i, want := range []struct {
		resp                   *http.Response
		stem, query, status    string
		result, cookie, ua     string
		referer, xff, ctype, n string
	}{
		{miss, "/a", "-", "200", "Miss", "session=abc;%20theme=dark", encUA, "http://www.example.com/page", "-", "text/plain", "8"},
		{hit, "/a", "-", "200", "Hit", "session=abc;%20theme=dark", encUA, "-", "-", "text/plain", "8"},
		{query, "/a", "x=1", "200", "Miss", "-", "Go-http-client/1.1", "-", "203.0.113.7", "text/plain", "10"},
		{notFound, "/missing%2520file", "-", "404", "Error", "-", "Go-http-client/1.1", "-", "-", "text/plain;%20charset=utf-8", "19"},
	} {
		l, ok := a[want.resp.Header.Get("X-Amz-Cf-Id")]
		if !ok {
			t.Errorf("request %d (%s): no line with its X-Amz-Cf-Id %q", i, want.stem, want.resp.Header.Get("X-Amz-Cf-Id"))
			continue
		}
		check(l, "cs-uri-stem", want.stem)
		check(l, "cs-uri-query", want.query)
		check(l, "sc-status", want.status)
		check(l, "x-edge-result-type", want.result)
		check(l, "x-edge-response-result-type", want.result)
		check(l, "x-edge-detailed-result-type", want.result)
		check(l, "cs(Cookie)", want.cookie)
		check(l, "cs(User-Agent)", want.ua)
		check(l, "cs(Referer)", want.referer)
		check(l, "x-forwarded-for", want.xff)
		check(l, "sc-content-type", want.ctype)
		check(l, "sc-content-len", want.n)
		check(l, "x-edge-request-id", want.resp.Header.Get("X-Amz-Cf-Id"))
		check(l, "cs(Host)", withCookies.domain)
		check(l, "x-host-header", withCookies.domain)
		check(l, "c-ip", "127.0.0.1")
		check(l, "cs-method", "GET")
		check(l, "cs-protocol", "http")
		check(l, "cs-protocol-version", "HTTP/1.1")
		check(l, "x-edge-location", "LOCAL1-C1")
		check(l, "ssl-protocol", "-")
		check(l, "fle-status", "-")
		check(l, "sc-range-start", "-")
		if d := l["date"] + " " + l["time"]; !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`).MatchString(d) {
			t.Errorf("date time %q", d)
		}
		for _, f := range []string{"sc-bytes", "cs-bytes", "c-port"} {
			if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(l[f]) {
				t.Errorf("%s = %q", f, l[f])
			}
		}
		for _, f := range []string{"time-taken", "time-to-first-byte"} {
			if !regexp.MustCompile(`^\d+\.\d{3}$`).MatchString(l[f]) {
				t.Errorf("%s = %q", f, l[f])
			}
		}
	}
	b := byID[noCookies.id][0]
	check(b, "cs(Cookie)", "-") // IncludeCookies false
	check(b, "x-edge-result-type", "Miss")
	f := byID[distID][0]
	check(f, "sc-status", "502")
	check(f, "x-edge-result-type", "Error")
	check(f, "cs(Host)", fileDomain)
}

// TestAccessLogFullDiskKeepsServing: with the access log directory on a
// full filesystem (a tiny tmpfs, filled; or, when mounting is not
// permitted, a directory removed under the server) every viewer request
// is still answered, lines are dropped with a warning, and the server
// stops on SIGTERM.
func TestAccessLogFullDiskKeepsServing(t *testing.T) {
	o := newTestOrigin(t)
	o.set("/a", "object a", "Cache-Control", "max-age=3600")
	logDir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mounted := false
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", logDir).CombinedOutput(); err == nil {
		mounted = true
		t.Cleanup(func() { exec.Command("umount", "-l", logDir).Run() })
		// Fill it.
		f, err := os.Create(filepath.Join(logDir, "filler"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			if _, err := f.Write(buf); err != nil {
				break
			}
		}
		f.Close()
	} else {
		t.Logf("cannot mount a tmpfs (%v: %s): removing the directory under the server instead", err, strings.TrimSpace(string(out)))
	}
	s := startServer(t, options{args: []string{"--access-log-dir", logDir}})
	c := s.client("", "")
	d := createEdgeDist(t, c, edgeConfig("full", legacyBehavior("o", false), o.origin("o")))
	if !mounted {
		if err := os.RemoveAll(logDir); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3000 // several of the logger's 64 KiB buffers: the writer runs
	for i := range n {
		r := viewer(t, s.EdgeURL, d.domain, "/a?"+strings.Repeat("q", i%200))
		if r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "access log: lines dropped") {
		t.Errorf("no warning about dropped lines:\n%s", s.stderr)
	}
	t.Logf("mounted tmpfs: %v; %d requests served", mounted, n)
}

// TestAccessLogSeparateEdge: `openfront edge --access-log-dir` writes the
// log of the requests it answered, and writes it out on SIGTERM.
func TestAccessLogSeparateEdge(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o)})
	logDir := t.TempDir()
	e := startEdge(t, cp.URL, "edge-log", nil, "--access-log-dir", logDir, "--pop", "TEST9-C1")
	want := o.body("/index.html", 1)
	warmEdge(t, e, fleetHost, "/index.html", want)
	hit := viewEdge(e.URL, fleetHost, "/index.html")
	if hit.status != 200 || hit.xcache != "Hit from cloudfront" {
		t.Fatalf("%v", hit)
	}
	e.signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("edge did not stop on SIGTERM\n%s", e.logs())
	}
	files := readAccessLogs(t, logDir)
	var results []string
	for name, lines := range files {
		if m := logFileName.FindStringSubmatch(name); m == nil || m[1] != "" || m[2] != fleetDist {
			t.Errorf("file %q", name)
		}
		for _, l := range lines {
			if l["x-edge-location"] != "TEST9-C1" || l["cs(Host)"] != fleetHost {
				t.Errorf("line %v", l)
			}
			results = append(results, l["x-edge-result-type"])
		}
	}
	// warmEdge's requests (503s while catching up, a miss, a hit), then
	// ours; lines are not in time order (as CloudFront's).
	hits := 0
	for _, r := range results {
		if r == "Hit" {
			hits++
		}
	}
	if hits < 2 || !slices.Contains(results, "Miss") {
		t.Errorf("result types %v", results)
	}
}
