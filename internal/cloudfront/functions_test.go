package cloudfront_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/function"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

// recorder is a resource.Publisher that keeps what it is told.
type recorder struct {
	mu        sync.Mutex
	published []resource.Resource // guarded by mu
}

func (p *recorder) PublishResource(_ context.Context, r resource.Resource) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, r.Clone())
	return nil
}

func (p *recorder) RemoveResource(context.Context, resource.Kind, string) error { return nil }

func (p *recorder) last() resource.Resource {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published[len(p.published)-1]
}

func newFunctionServer(t *testing.T, rt ...cloudfront.FunctionRuntime) (*apiServer, *recorder) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub := &recorder{}
	store := memory.New()
	svc := resource.NewService(resource.Config{Store: store, Publisher: pub, Rules: cloudfront.FunctionRules(), Logger: quiet})
	c := cloudfront.Config{ResourceServices: []*resource.Service{svc}, Logger: quiet, AccountID: "123456789012"}
	if len(rt) > 0 {
		c.FunctionRuntime = rt[0]
	}
	h := cloudfront.NewHandler(c)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &apiServer{t: t, url: srv.URL, store: store}, pub
}

func createFunctionBody(name, comment, code string) string {
	return `<CreateFunctionRequest ` + ns + `><Name>` + name + `</Name><FunctionConfig><Comment>` + comment +
		`</Comment><Runtime>cloudfront-js-2.0</Runtime></FunctionConfig><FunctionCode>` +
		base64.StdEncoding.EncodeToString([]byte(code)) + `</FunctionCode></CreateFunctionRequest>`
}

// TestFunctionLifecycle: the documents, headers and ETags of every
// function operation, and what edges are told: each publish is a new
// resource version carrying the LIVE stage.
func TestFunctionLifecycle(t *testing.T) {
	s, pub := newFunctionServer(t)
	const code = "function handler(event) { return event.request; }"
	c := s.do("POST", "/2020-05-31/function", createFunctionBody("fn-1", "first", code))
	if c.status != 201 {
		t.Fatalf("create: %d %s", c.status, c.body)
	}
	devTag := c.header.Get("ETag")
	if want := s.url + "/2020-05-31/function/arn:aws:cloudfront::123456789012:function/fn-1"; c.header.Get("Location") != want {
		t.Errorf("Location %q, want %q", c.header.Get("Location"), want)
	}
	if !strings.Contains(c.body, `<FunctionSummary `+ns+`><Name>fn-1</Name><Status>UNPUBLISHED</Status><FunctionConfig><Comment>first</Comment><Runtime>cloudfront-js-2.0</Runtime></FunctionConfig><FunctionMetadata><FunctionARN>arn:aws:cloudfront::123456789012:function/fn-1</FunctionARN><Stage>DEVELOPMENT</Stage><CreatedTime>`) {
		t.Errorf("create body %s", c.body)
	}
	if _, err := xmlmodel.Decode([]byte(c.body), "FunctionSummary", "FunctionSummary"); err != nil {
		t.Errorf("create body against the model: %v", err)
	}
	s.wantError(s.do("POST", "/2020-05-31/function", createFunctionBody("fn-1", "again", code)), 409, "FunctionAlreadyExists")
	s.wantError(s.do("POST", "/2020-05-31/function", createFunctionBody("fn.bad", "", code)), 400, "InvalidArgument")
	s.wantError(s.do("POST", "/2020-05-31/function", createFunctionBody("big", "", strings.Repeat("x", 10241))), 413, "FunctionSizeLimitExceeded")
	s.wantError(s.do("POST", "/2020-05-31/function", strings.Replace(createFunctionBody("rt", "", code), "cloudfront-js-2.0", "nodejs", 1)), 400, "InvalidArgument")

	g := s.do("GET", "/2020-05-31/function/fn-1", "")
	if g.status != 200 || g.body != code || g.header.Get("ETag") != devTag || g.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("get: %d %q %q %q", g.status, g.body, g.header.Get("ETag"), g.header.Get("Content-Type"))
	}
	s.wantError(s.do("GET", "/2020-05-31/function/fn-1?Stage=LIVE", ""), 404, "NoSuchFunctionExists")
	s.wantError(s.do("GET", "/2020-05-31/function/fn-1/describe?Stage=LIVE", ""), 404, "NoSuchFunctionExists")
	s.wantError(s.do("GET", "/2020-05-31/function/fn-1/describe?Stage=STAGING", ""), 400, "InvalidArgument")
	s.wantError(s.do("GET", "/2020-05-31/function/nope/describe", ""), 404, "NoSuchFunctionExists")

	// Update: If-Match is DEVELOPMENT's ETag; the answer's ETag is also
	// in the ETtag header, the service model's name for it.
	upd := strings.NewReplacer("CreateFunctionRequest", "UpdateFunctionRequest", "<Name>fn-1</Name>", "").Replace(createFunctionBody("fn-1", "second", code+"\n"))
	s.wantError(s.do("PUT", "/2020-05-31/function/fn-1", upd), 400, "InvalidIfMatchVersion")
	s.wantError(s.do("PUT", "/2020-05-31/function/fn-1", upd, "If-Match", "EWRONG"), 412, "PreconditionFailed")
	u := s.do("PUT", "/2020-05-31/function/fn-1", upd, "If-Match", devTag)
	if u.status != 200 || u.header.Get("ETtag") == "" || u.header.Get("ETtag") == devTag || u.header.Get("ETag") != u.header.Get("ETtag") {
		t.Fatalf("update: %d ETag %q ETtag %q %s", u.status, u.header.Get("ETag"), u.header.Get("ETtag"), u.body)
	}
	devTag = u.header.Get("ETtag")
	beforePublish := pub.last()

	s.wantError(s.do("POST", "/2020-05-31/function/fn-1/publish", ""), 400, "InvalidIfMatchVersion")
	s.wantError(s.do("POST", "/2020-05-31/function/fn-1/publish", "", "If-Match", "EWRONG"), 412, "PreconditionFailed")
	p := s.do("POST", "/2020-05-31/function/fn-1/publish", "", "If-Match", devTag)
	if p.status != 200 || !strings.Contains(p.body, "<Status>UNASSOCIATED</Status>") || !strings.Contains(p.body, "<Stage>LIVE</Stage>") || !strings.Contains(p.body, "<Comment>second</Comment>") {
		t.Fatalf("publish: %d %s", p.status, p.body)
	}
	published := pub.last()
	if published.ETag == beforePublish.ETag {
		t.Errorf("publishing kept the resource's ETag %q: edges would not see the LIVE stage", published.ETag)
	}
	fn, err := function.Decode(published.Config)
	if err != nil || fn.Live == nil || string(fn.Live.Code) != code+"\n" {
		t.Fatalf("edges were told %+v %v, want a LIVE stage with the updated code", fn, err)
	}
	d := s.do("GET", "/2020-05-31/function/fn-1/describe?Stage=LIVE", "")
	liveTag := d.header.Get("ETag")
	if d.status != 200 || liveTag == "" || liveTag == devTag || liveTag != fn.Live.ETag {
		t.Errorf("describe LIVE: %d ETag %q (DEVELOPMENT %q)", d.status, liveTag, devTag)
	}
	if d := s.do("GET", "/2020-05-31/function/fn-1/describe", ""); d.header.Get("ETag") != devTag {
		t.Errorf("describe DEVELOPMENT after publish: ETag %q, want %q", d.header.Get("ETag"), devTag)
	}

	l := s.do("GET", "/2020-05-31/function", "")
	if l.status != 200 || strings.Count(l.body, "<FunctionSummary>") != 2 || !strings.Contains(l.body, "<MaxItems>100</MaxItems><Quantity>2</Quantity>") {
		t.Errorf("list: %d %s", l.status, l.body)
	}
	if _, err := xmlmodel.Decode([]byte(l.body), "FunctionList", "FunctionList"); err != nil {
		t.Errorf("list against the model: %v", err)
	}
	l = s.do("GET", "/2020-05-31/function?Stage=LIVE", "")
	if strings.Count(l.body, "<FunctionSummary>") != 1 || !strings.Contains(l.body, "<Stage>LIVE</Stage>") {
		t.Errorf("list LIVE: %s", l.body)
	}
	l = s.do("GET", "/2020-05-31/function?MaxItems=1", "")
	if !strings.Contains(l.body, "<NextMarker>fn-1/LIVE</NextMarker>") {
		t.Errorf("list page 1: %s", l.body)
	}
	l = s.do("GET", "/2020-05-31/function?MaxItems=1&Marker=fn-1/LIVE", "")
	if strings.Contains(l.body, "NextMarker") || !strings.Contains(l.body, "<Stage>LIVE</Stage>") {
		t.Errorf("list page 2: %s", l.body)
	}

	// Without a runtime, TestFunction is not supported.
	ev := `<TestFunctionRequest ` + ns + `><Stage>LIVE</Stage><EventObject>` + base64.StdEncoding.EncodeToString([]byte(`{"version":"1.0"}`)) + `</EventObject></TestFunctionRequest>`
	s.wantError(s.do("POST", "/2020-05-31/function/fn-1/test", ev, "If-Match", liveTag), 400, "UnsupportedOperation")

	s.wantError(s.do("DELETE", "/2020-05-31/function/fn-1", ""), 400, "InvalidIfMatchVersion")
	s.wantError(s.do("DELETE", "/2020-05-31/function/fn-1", "", "If-Match", liveTag), 412, "PreconditionFailed")
	if del := s.do("DELETE", "/2020-05-31/function/fn-1", "", "If-Match", devTag); del.status != 204 {
		t.Fatalf("delete: %d %s", del.status, del.body)
	}
	s.wantError(s.do("DELETE", "/2020-05-31/function/fn-1", "", "If-Match", devTag), 404, "NoSuchFunctionExists")
}

// TestFunctionQuota: past the account's quota of functions,
// TooManyFunctions.
func TestFunctionQuota(t *testing.T) {
	s, _ := newFunctionServer(t)
	for i := range function.DefaultLimits.MaxFunctions {
		if a := s.do("POST", "/2020-05-31/function", createFunctionBody("f"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26)), "", "x")); a.status != 201 {
			t.Fatalf("create %d: %d %s", i, a.status, a.body)
		}
	}
	s.wantError(s.do("POST", "/2020-05-31/function", createFunctionBody("one-more", "", "x")), 400, "TooManyFunctions")
}

// TestFunctionEngine: with the engine, code that does not compile is
// refused, and TestFunction runs a stage's code on the event.
func TestFunctionEngine(t *testing.T) {
	s, _ := newFunctionServer(t, cloudfront.Engine{})
	bad := s.do("POST", "/2020-05-31/function", createFunctionBody("bad", "", "function handler(event) { return event.request;"))
	s.wantError(bad, 400, "InvalidArgument")
	if !strings.Contains(bad.body, "The function code is invalid") {
		t.Errorf("compile error: %s", bad.body)
	}
	s.wantError(s.do("POST", "/2020-05-31/function", createFunctionBody("nohandler", "", "function other(e) { return e; }")), 400, "InvalidArgument")

	const code = `function handler(event) {
	console.log("uri " + event.request.uri);
	if (event.request.uri === "/boom") { throw new Error("boom"); }
	event.request.headers["x-test"] = {value: "yes"};
	return event.request;
}`
	c := s.do("POST", "/2020-05-31/function", createFunctionBody("fn", "", code))
	if c.status != 201 {
		t.Fatalf("create: %d %s", c.status, c.body)
	}
	etag := c.header.Get("ETag")
	event := func(uri string) string {
		ev := `{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"198.51.100.1"},` +
			`"request":{"method":"GET","uri":"` + uri + `","querystring":{},"headers":{},"cookies":{}}}`
		return `<TestFunctionRequest ` + ns + `><Stage>DEVELOPMENT</Stage><EventObject>` + base64.StdEncoding.EncodeToString([]byte(ev)) + `</EventObject></TestFunctionRequest>`
	}
	s.wantError(s.do("POST", "/2020-05-31/function/fn/test", event("/a")), 400, "InvalidIfMatchVersion")
	live := strings.Replace(event("/a"), "DEVELOPMENT", "LIVE", 1)
	s.wantError(s.do("POST", "/2020-05-31/function/fn/test", live, "If-Match", etag), 404, "NoSuchFunctionExists")
	r := s.do("POST", "/2020-05-31/function/fn/test", event("/a"), "If-Match", etag)
	if r.status != 200 {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	if _, err := xmlmodel.Decode([]byte(r.body), "TestResult", "TestResult"); err != nil {
		t.Errorf("TestResult against the model: %v", err)
	}
	for _, want := range []string{"<Stage>DEVELOPMENT</Stage>", "<ComputeUtilization>", "<FunctionExecutionLogs><member>uri /a</member></FunctionExecutionLogs>",
		"<FunctionErrorMessage></FunctionErrorMessage>", `<FunctionOutput>{"request":{"method":"GET","uri":"/a","querystring":{},"headers":{"x-test":{"value":"yes"}},"cookies":{}}}</FunctionOutput>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("test result lacks %s:\n%s", want, r.body)
		}
	}
	r = s.do("POST", "/2020-05-31/function/fn/test", event("/boom"), "If-Match", etag)
	if r.status != 200 || !strings.Contains(r.body, "boom</FunctionErrorMessage>") {
		t.Errorf("a throwing function: %d %s", r.status, r.body)
	}
	notJSON := `<TestFunctionRequest ` + ns + `><EventObject>` + base64.StdEncoding.EncodeToString([]byte("{")) + `</EventObject></TestFunctionRequest>`
	s.wantError(s.do("POST", "/2020-05-31/function/fn/test", notJSON, "If-Match", etag), 400, "InvalidArgument")
}

// TestFunctionKeyValueStores: a function's KeyValueStore associations
// are stored and sent back; one naming a store that does not exist is
// EntityNotFound.
func TestFunctionKeyValueStores(t *testing.T) {
	s, _ := newFunctionServer(t)
	const kvsID = "a1b2c3d4-5678-90ab-cdef-0123456789ab"
	arn := "arn:aws:cloudfront::123456789012:key-value-store/" + kvsID
	body := strings.Replace(createFunctionBody("kv", "", "x"), "</Runtime>",
		"</Runtime><KeyValueStoreAssociations><Quantity>1</Quantity><Items><KeyValueStoreAssociation><KeyValueStoreARN>"+arn+
			"</KeyValueStoreARN></KeyValueStoreAssociation></Items></KeyValueStoreAssociations>", 1)
	s.wantError(s.do("POST", "/2020-05-31/function", body), 404, "EntityNotFound")
	if _, err := s.store.CreateResource(context.Background(), resource.Resource{Kind: resource.KeyValueStore, ID: kvsID, Name: "store"}, nil); err != nil {
		t.Fatal(err)
	}
	c := s.do("POST", "/2020-05-31/function", body)
	if c.status != 201 || !strings.Contains(c.body, "<KeyValueStoreAssociations><Quantity>1</Quantity><Items><KeyValueStoreAssociation><KeyValueStoreARN>"+arn+"</KeyValueStoreARN>") {
		t.Fatalf("create with a store: %d %s", c.status, c.body)
	}
	if err := s.store.DeleteResource(context.Background(), resource.KeyValueStore, kvsID, nil); !errors.Is(err, resource.ErrInUse) {
		t.Errorf("deleting a store a function reads: %v, want ErrInUse", err)
	}
	bad := strings.Replace(body, kvsID, "nope", 1)
	s.wantError(s.do("POST", "/2020-05-31/function", strings.Replace(bad, "<Name>kv</Name>", "<Name>kv2</Name>", 1)), 400, "InvalidArgument")
}

// TestListFunctionsPages: pages of one item give every stage of every
// function once, in order, whatever the names ("a/LIVE" sorts after
// "a-b" as a string).
func TestListFunctionsPages(t *testing.T) {
	s, _ := newFunctionServer(t)
	for _, name := range []string{"a", "a-b", "a_c", "b"} {
		c := s.do("POST", "/2020-05-31/function", createFunctionBody(name, "", "x"))
		if c.status != 201 {
			t.Fatal(c.body)
		}
		if name != "b" {
			if p := s.do("POST", "/2020-05-31/function/"+name+"/publish", "", "If-Match", c.header.Get("ETag")); p.status != 200 {
				t.Fatal(p.body)
			}
		}
	}
	itemRE := regexp.MustCompile(`<Name>([^<]+)</Name>.*?<Stage>([A-Z]+)</Stage>`)
	markerRE := regexp.MustCompile(`<NextMarker>([^<]+)</NextMarker>`)
	var got []string
	marker := ""
	for range 20 {
		l := s.do("GET", "/2020-05-31/function?MaxItems=1&Marker="+url.QueryEscape(marker), "")
		for _, m := range itemRE.FindAllStringSubmatch(l.body, -1) {
			got = append(got, m[1]+" "+m[2])
		}
		m := markerRE.FindStringSubmatch(l.body)
		if m == nil {
			break
		}
		marker = m[1]
	}
	want := []string{"a DEVELOPMENT", "a LIVE", "a-b DEVELOPMENT", "a-b LIVE", "a_c DEVELOPMENT", "a_c LIVE", "b DEVELOPMENT"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages of one: %v, want %v", got, want)
	}
}
