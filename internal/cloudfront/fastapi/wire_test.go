package fastapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/sigv4"
	"github.com/openfront/openfront/internal/store/memory"
)

const (
	distID     = "EWIRETEST0001"
	otherDist  = "EWIRETEST0002"
	keyID      = "AKIDWIRE"
	secret     = "wireSecret"
	limitedKey = "AKIDLIMITED"
)

// newAPI returns an API with a store of its own: two distributions, an
// unrestricted key and one limited to otherDist.
func newAPI(t testing.TB) *cloudfront.Handler {
	t.Helper()
	return newAPILimits(t, invalidation.Limits{})
}

// newAPILimits is newAPI with the invalidation limits given (DefaultLimits
// when zero).
func newAPILimits(t testing.TB, limits invalidation.Limits) *cloudfront.Handler {
	t.Helper()
	return newAPIMetrics(t, limits, nil, nil)
}

// newAPIMetrics is newAPILimits counting with m and completed (nil: not
// counted).
func newAPIMetrics(t testing.TB, limits invalidation.Limits, m cloudfront.Metrics, completed func(invalidation.Invalidation, time.Time)) *cloudfront.Handler {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	store := memory.New()
	origin, _ := url.Parse("http://127.0.0.1:9")
	now := time.Now()
	dists, err := distribution.NewService(context.Background(), distribution.ServiceConfig{Store: store, Logger: quiet,
		FromFile: []*distribution.Distribution{
			distribution.FromFile(distID, origin, nil, "one.localhost", now),
			distribution.FromFile(otherDist, origin, nil, "two.localhost", now),
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dists.Close)
	svc := invalidation.NewService(invalidation.Config{Store: store, Distributions: dists.Registry(), Limits: limits, Logger: quiet, Completed: completed})
	t.Cleanup(svc.Close)
	return cloudfront.NewHandler(cloudfront.Config{Invalidations: svc, Distributions: dists, Logger: quiet, Metrics: m,
		Keys: map[string]cloudfront.Key{keyID: {Secret: secret}, limitedKey: {Secret: secret, Distributions: []string{otherDist}}}})
}

// listeners serves a fresh API under net/http (the reference) and another
// under the API listener, and returns their addresses and a count of the
// requests the listener bridged.
func listeners(t *testing.T) (ref, fast string, bridged *atomic.Int64) {
	t.Helper()
	refLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refSrv := &http.Server{Handler: newAPI(t), ReadHeaderTimeout: 10 * time.Second}
	go refSrv.Serve(refLn)
	t.Cleanup(func() { refSrv.Close() })

	api := newAPI(t)
	bridged = new(atomic.Int64)
	s := New(Config{API: api, Logger: slog.New(slog.DiscardHandler), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bridged.Add(1)
		api.ServeHTTP(w, r)
	})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return refLn.Addr().String(), ln.Addr().String(), bridged
}

// rawReq is a request as sent on the wire: header lines in order.
type rawReq struct {
	method, target, proto string
	header                [][2]string // Host first, as clients send it
	body                  string
	sign                  string // the key to sign with; "" unsigned
	signAt                time.Time
	sdkSign               bool        // sign with aws-sdk-go-v2's signer (every header) instead of sigv4.Sign
	extra                 [][2]string // header lines sent but not signed
	damage                func(auth string) string
}

func batch(ref string, paths ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>`)
	b.WriteString(strconv.Itoa(len(paths)))
	b.WriteString(`</Quantity><Items>`)
	for _, p := range paths {
		b.WriteString("<Path>" + p + "</Path>")
	}
	b.WriteString(`</Items></Paths><CallerReference>` + ref + `</CallerReference></InvalidationBatch>`)
	return b.String()
}

// bytes returns the request's bytes, signed (SigV4 over the same header
// lines) for host.
func (q rawReq) bytes(host string) string {
	proto := q.proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	hdr := append([][2]string{{"Host", host}}, q.header...)
	if q.sign != "" {
		u, _ := url.ParseRequestURI(q.target)
		r := &http.Request{Method: q.method, URL: u, Host: host, Header: http.Header{}, ContentLength: int64(len(q.body))}
		for _, kv := range q.header {
			r.Header.Add(kv[0], kv[1])
		}
		at := q.signAt
		if at.IsZero() {
			at = time.Now()
		}
		if q.sdkSign {
			sum := sha256.Sum256([]byte(q.body))
			r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: q.sign, SecretAccessKey: secret},
				r, hex.EncodeToString(sum[:]), "cloudfront", "us-east-1", at); err != nil {
				panic(err)
			}
		} else {
			sigv4.Sign(r, []byte(q.body), q.sign, secret, "us-east-1", "cloudfront", at)
		}
		auth := r.Header.Get("Authorization")
		if q.damage != nil {
			auth = q.damage(auth)
		}
		hdr = append(hdr, [2]string{"X-Amz-Date", r.Header.Get("X-Amz-Date")}, [2]string{"X-Amz-Content-Sha256", r.Header.Get("X-Amz-Content-Sha256")}, [2]string{"Authorization", auth})
	}
	hdr = append(hdr, q.extra...)
	var b strings.Builder
	b.WriteString(q.method + " " + q.target + " " + proto + "\r\n")
	for _, kv := range hdr {
		b.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(q.body)
	return b.String()
}

// wireAnswer is an answer as compared: status line, header lines sorted
// (volatile values masked), body with ids and times masked.
type wireAnswer struct {
	status string
	lines  []string
	body   string
}

func (a wireAnswer) String() string {
	return fmt.Sprintf("%s\n%s\n(body %d bytes %.300q)", a.status, strings.Join(a.lines, "\n"), len(a.body), a.body)
}

var (
	// Ids, times (also in messages; the two APIs are created a moment apart) and an invalidation's status (it
	// completes in the background) differ between any two servers.
	maskBody = regexp.MustCompile(`<(Id|RequestId|CreateTime|LastModifiedTime|Status)>[^<]*</`)
	maskTime = regexp.MustCompile(`\d{8}T\d{6}Z`)
	maskLoc  = regexp.MustCompile(`/invalidation/[A-Z0-9]+$`)
)

// readAnswer reads one answer of a request of method from br, whose bytes
// rec records from start.
func readAnswer(t *testing.T, br *bufio.Reader, rec *bytes.Buffer, method string) wireAnswer {
	t.Helper()
	start := rec.Len() - br.Buffered()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v (read %q)", err, rec.String())
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	head, _, _ := strings.Cut(rec.String()[start:], "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	a := wireAnswer{status: lines[0], body: maskTime.ReplaceAllString(maskBody.ReplaceAllString(string(body), "<$1>*</"), "*")}
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ": ")
		switch strings.ToLower(name) {
		case "date", "x-amz-request-id":
			if value == "" {
				t.Errorf("%s without value", name)
			}
			l = name + ": *"
		case "location":
			l = maskLoc.ReplaceAllString(l, "/invalidation/*")
		case "content-length":
			if n, _ := strconv.Atoi(value); n != len(body) && method != "HEAD" {
				t.Errorf("Content-Length %d, body %d bytes", n, len(body))
			}
			if strings.Contains(string(body), "<CreateTime>") || strings.Contains(string(body), "Signature expired") {
				l = name + ": *" // the time's digits may differ
			}
		}
		a.lines = append(a.lines, l)
	}
	slices.Sort(a.lines)
	return a
}

// exchange sends raw (one or more requests, pipelined) on a new
// connection to addr and reads the answers of methods.
func exchange(t *testing.T, addr, raw string, methods ...string) (answers []wireAnswer, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(c, raw) // a large body may not be read whole
	var rec bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &rec))
	for _, m := range methods {
		answers = append(answers, readAnswer(t, br, &rec, m))
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := br.ReadByte(); err != nil {
		var ne net.Error
		closed = !(errors.As(err, &ne) && ne.Timeout())
	}
	return answers, closed
}

// TestAPIListenerWireAsNetHTTP sends the same raw requests to the API
// served by net/http and by the API listener (fast path and bridge) and
// compares the answers: status line, header lines (names as sent,
// values; Date and X-Amz-Request-Id values, and order, aside), body (ids
// and times aside), whether the connection stays open; and checks which
// requests the fast path answered.
func TestAPIListenerWireAsNetHTTP(t *testing.T) {
	ref, fast, bridged := listeners(t)
	inv := "/2020-05-31/distribution/" + distID + "/invalidation"
	xmlCT := [][2]string{{"Content-Type", "text/xml"}, {"User-Agent", "wire-test"}}
	valid := batch("ref-1", "/a", "/b/*")
	big := batch("ref-big", "/"+strings.Repeat("x", 1000))
	big = strings.Replace(big, "<Paths>", "<Paths>"+strings.Repeat(" ", 3<<20), 1) // a body of several megabytes
	cl := func(body string) [][2]string {
		return append(slices.Clone(xmlCT), [2]string{"Content-Length", strconv.Itoa(len(body))})
	}
	type tc struct {
		name    string
		reqs    []rawReq
		fast    int  // how many the fast path answers
		closeOK bool // net/http closes where the listener says Connection: close too
		// extra are lines the listener's answer has and net/http's not:
		// its answers to a malformed request carry their length and Date.
		extra []string
		// early: refused from its header before its body is read (not
		// bridged), so the listener closes the connection where net/http,
		// which read the body, keeps it.
		early bool
	}
	post := func(body string, mod ...func(*rawReq)) rawReq {
		q := rawReq{method: "POST", target: inv, header: cl(body), body: body, sign: keyID}
		for _, m := range mod {
			m(&q)
		}
		return q
	}
	cases := []tc{
		{name: "create", reqs: []rawReq{post(valid)}, fast: 1},
		{name: "replay", reqs: []rawReq{post(valid)}, fast: 1},
		{name: "same reference, other paths", reqs: []rawReq{post(batch("ref-1", "/c"))}, fast: 1},
		{name: "unknown distribution", reqs: []rawReq{post(batch("r2", "/a"), func(q *rawReq) { q.target = "/2020-05-31/distribution/ENOSUCH/invalidation" })}, fast: 1},
		{name: "key limited to another distribution", reqs: []rawReq{post(batch("r3", "/a"), func(q *rawReq) { q.sign = limitedKey })}, fast: 1},
		{name: "limited key on its distribution", reqs: []rawReq{post(batch("r3", "/a"), func(q *rawReq) {
			q.sign = limitedKey
			q.target = "/2020-05-31/distribution/" + otherDist + "/invalidation"
		})}, fast: 1},
		{name: "unsigned", reqs: []rawReq{post(batch("r4", "/a"), func(q *rawReq) { q.sign = "" })}, fast: 1},
		{name: "bad signature", reqs: []rawReq{post(batch("r5", "/a"), func(q *rawReq) {
			q.damage = func(a string) string { return strings.Replace(a, "Signature=", "Signature=0", 1) }
		})}, fast: 1},
		{name: "expired", reqs: []rawReq{post(batch("r6", "/a"), func(q *rawReq) { q.signAt = time.Now().Add(-time.Hour) })}, fast: 1},
		{name: "unknown key", reqs: []rawReq{post(batch("r7", "/a"), func(q *rawReq) { q.sign = "AKIDUNKNOWN" })}, fast: 1},
		{name: "malformed XML", reqs: []rawReq{post("<InvalidationBatch><Paths>")}, fast: 1},
		{name: "empty body", reqs: []rawReq{post("")}, fast: 1},
		{name: "inconsistent quantities", reqs: []rawReq{post(strings.Replace(batch("r8", "/a"), "<Quantity>1<", "<Quantity>2<", 1))}, fast: 1},
		{name: "invalid path", reqs: []rawReq{post(batch("r9", "no-slash"))}, fast: 1},
		{name: "several megabytes", reqs: []rawReq{post(big)}, fast: 1},
		{name: "header names in odd case, signed headers in odd order", reqs: []rawReq{post(batch("r10", "/a"), func(q *rawReq) {
			q.header = [][2]string{{"content-TYPE", "text/xml"}, {"x-amz-meta-a", "one"}, {"Content-length", strconv.Itoa(len(q.body))}, {"X-AMZ-META-A", "  two   three "}}
			q.sdkSign = true
		})}, fast: 1},
		{name: "duplicate header, signed with one value, sent with two", reqs: []rawReq{post(batch("r11", "/a"), func(q *rawReq) {
			q.header = append(q.header, [2]string{"X-Amz-Meta-A", "one"})
			q.sdkSign = true
			q.extra = [][2]string{{"x-amz-meta-a", "two"}}
		})}, fast: 1},
		{name: "unsigned extra header", reqs: []rawReq{post(batch("r12", "/a"), func(q *rawReq) {
			q.sdkSign = true
			q.extra = [][2]string{{"X-Extra", "x"}}
		})}, fast: 1},
		{name: "pipelined", reqs: []rawReq{post(batch("p1", "/a")), post(batch("p2", "/b")), {method: "GET", target: inv, sign: keyID}, post(batch("p3", "/c"))}, fast: 3},
		{name: "connection close", reqs: []rawReq{post(batch("c1", "/a"), func(q *rawReq) { q.header = append(q.header, [2]string{"Connection", "close"}) })}, fast: 1},
		// The bridge's.
		{name: "HTTP/1.0", reqs: []rawReq{post(batch("h10", "/a"), func(q *rawReq) { q.proto = "HTTP/1.0" })}, closeOK: true},
		{name: "HTTP/1.0 keep-alive", reqs: []rawReq{post(batch("h10k", "/a"), func(q *rawReq) {
			q.proto = "HTTP/1.0"
			q.header = append(q.header, [2]string{"Connection", "keep-alive"})
		})}},
		{name: "percent-encoded target", reqs: []rawReq{post(batch("e1", "/a"), func(q *rawReq) { q.target = "/2020-05-31/distribution/%45WIRETEST0001/invalidation" })}},
		{name: "query", reqs: []rawReq{post(batch("q1", "/a"), func(q *rawReq) { q.target = inv + "?x=1" })}},
		{name: "dot segment", reqs: []rawReq{post(batch("d1", "/a"), func(q *rawReq) { q.target = "/2020-05-31/distribution/./invalidation" })}},
		{name: "chunked", reqs: []rawReq{func() rawReq {
			body := batch("ch1", "/a")
			q := post(body)
			q.header = append(slices.Clone(xmlCT), [2]string{"Transfer-Encoding", "chunked"})
			q.body = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
			q.sign = "" // (a chunked body is signed over its bytes; unsigned here)
			return q
		}()}, fast: 1, early: true},
		// Answered by the listener (BodyTooLarge) before the body is read.
		{name: "body over 16 MiB", reqs: []rawReq{{method: "POST", target: inv, header: [][2]string{{"Content-Type", "text/xml"}, {"Content-Length", strconv.Itoa(cloudfront.MaxBodyBytes + 1)}}}}, fast: 1},
		{name: "list invalidations", reqs: []rawReq{{method: "GET", target: inv, sign: keyID}}},
		{name: "get distribution", reqs: []rawReq{{method: "GET", target: "/2020-05-31/distribution/" + distID, sign: keyID}}},
		{name: "unknown route", reqs: []rawReq{{method: "GET", target: "/nope", sign: keyID}}},
		{name: "method not allowed", reqs: []rawReq{{method: "PUT", target: inv, sign: keyID}}},
		{name: "HEAD", reqs: []rawReq{{method: "HEAD", target: inv, sign: keyID}}},
		// Refused by the listener (a header name net/http refuses and
		// fasthttp reads) before the fast path or the bridge.
		{name: "header name with a space", reqs: []rawReq{post(batch("sp1", "/a"), func(q *rawReq) { q.extra = [][2]string{{"Foo Bar", "x"}} })}, fast: 1,
			extra: []string{"Content-Length: 36", "Date: *"}},
		{name: "header name with a space, other operation", reqs: []rawReq{{method: "GET", target: inv, sign: keyID, extra: [][2]string{{"Foo Bar", "x"}}}}, fast: 1,
			extra: []string{"Content-Length: 36", "Date: *"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var refRaw, fastRaw string
			var methods []string
			for _, q := range c.reqs {
				refRaw += q.bytes("api.test")
				fastRaw += q.bytes("api.test")
				methods = append(methods, q.method)
			}
			want, wantClosed := exchange(t, ref, refRaw, methods...)
			before := bridged.Load()
			got, gotClosed := exchange(t, fast, fastRaw, methods...)
			if n := int64(len(c.reqs)) - (bridged.Load() - before); n != int64(c.fast) {
				t.Errorf("fast path answered %d, want %d", n, c.fast)
			}
			for i := range want {
				w := want[i]
				if (c.closeOK && gotClosed && wantClosed) || (c.early && gotClosed) {
					w.lines = append(w.lines, "Connection: close")
				}
				w.lines = append(slices.Clone(w.lines), c.extra...)
				slices.Sort(w.lines)
				if got[i].String() != w.String() {
					t.Errorf("answer %d:\nAPI listener:\n%s\nnet/http:\n%s", i, got[i], w)
				}
			}
			if c.early && !gotClosed {
				t.Errorf("refused before its body, the connection stays open")
			}
			if gotClosed != wantClosed && !c.early {
				t.Errorf("closed: API listener %v, net/http %v", gotClosed, wantClosed)
			}
		})
	}
}
