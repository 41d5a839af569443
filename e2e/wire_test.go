package e2e

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

const invPath = "/2020-05-31/distribution/" + distID + "/invalidation"

func TestWireErrors(t *testing.T) {
	s := startServer(t, options{})
	good := `<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>%s</CallerReference></InvalidationBatch>`
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"empty body", "POST", invPath, "", 400, "MissingBody"},
		{"whitespace body", "POST", invPath, "  \n", 400, "MissingBody"},
		{"not xml", "POST", invPath, "paths=/a", 400, "InvalidArgument"},
		{"truncated xml", "POST", invPath, `<InvalidationBatch><Paths><Quantity>1</Quantity>`, 400, "InvalidArgument"},
		{"wrong root", "POST", invPath, `<Batch><Paths><Quantity>0</Quantity></Paths></Batch>`, 400, "InvalidArgument"},
		{"unknown element", "POST", invPath, `<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>x</CallerReference><Priority>1</Priority></InvalidationBatch>`, 400, "InvalidArgument"},
		{"no paths element", "POST", invPath, `<InvalidationBatch><CallerReference>x</CallerReference></InvalidationBatch>`, 400, "InvalidArgument"},
		{"quantity not a number", "POST", invPath, `<InvalidationBatch><Paths><Quantity>one</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>x</CallerReference></InvalidationBatch>`, 400, "InvalidArgument"},
		{"missing caller reference", "POST", invPath, `<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths></InvalidationBatch>`, 400, "InvalidArgument"},
		{"trailing garbage", "POST", invPath, fmt.Sprintf(good, "g") + "<x/>", 400, "InvalidArgument"},
		{"wrong namespace", "POST", invPath, strings.Replace(fmt.Sprintf(good, "n"), "2020-05-31", "2019-03-26", 1), 400, "InvalidArgument"},
		{"too large", "POST", invPath, strings.Repeat(" ", 17<<20), 413, "BatchTooLarge"},
		{"unknown distribution", "GET", "/2020-05-31/distribution/ENOPE/invalidation/IX", "", 404, "NoSuchDistribution"},
		{"unknown invalidation", "GET", invPath + "/INOPE", "", 404, "NoSuchInvalidation"},
		{"wrong method", "DELETE", invPath, "", 405, "MethodNotAllowed"},
		{"unimplemented operation", "GET", "/2020-05-31/field-level-encryption", "", 501, "NotImplemented"},
		{"wrong method on a policy", "PATCH", "/2020-05-31/cache-policy", "", 405, "MethodNotAllowed"},
		{"unknown path", "GET", "/favicon.ico", "", 404, "UnknownOperation"},
	}
	envelope := regexp.MustCompile(`^<\?xml version="1.0"\?>\n<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>(?:Sender|Receiver)</Type><Code>[A-Za-z]+</Code><Message>[^<]+</Message></Error><RequestId>([0-9a-f-]{36})</RequestId></ErrorResponse>$`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawRequest(t, s, tc.method, tc.path, tc.body)
			if r.status != tc.status || r.code != tc.code {
				t.Fatalf("got %d %s, want %d %s\n%s", r.status, r.code, tc.status, tc.code, r.body)
			}
			m := envelope.FindStringSubmatch(r.body)
			if m == nil {
				t.Fatalf("not CloudFront's error envelope:\n%s", r.body)
			}
			if id := r.header.Get("x-amz-request-id"); id != m[1] {
				t.Errorf("x-amz-request-id %q, RequestId %q", id, m[1])
			}
			if ct := r.header.Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// A body without a namespace is accepted (CloudFront's own examples omit it at times).
	r := rawRequest(t, s, "POST", invPath, strings.Replace(fmt.Sprintf(good, "nons"), ` xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"`, "", 1))
	if r.status != 201 {
		t.Fatalf("no-namespace body: %d\n%s", r.status, r.body)
	}
}

func TestWireSuccessShape(t *testing.T) {
	s := startServer(t, options{})
	body := `<?xml version="1.0" encoding="UTF-8"?>
<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Paths><Quantity>2</Quantity><Items><Path>/a&amp;b.html</Path><Path>/&lt;x&gt;*</Path></Items></Paths>
  <CallerReference>shape-1</CallerReference>
</InvalidationBatch>`
	r := rawRequest(t, s, "POST", invPath, body)
	if r.status != 201 {
		t.Fatalf("%d\n%s", r.status, r.body)
	}
	want := regexp.MustCompile(`^<\?xml version="1.0"\?>\n<Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>(I[A-Z0-9]{13})</Id><Status>InProgress</Status><CreateTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z</CreateTime><InvalidationBatch><Paths><Quantity>2</Quantity><Items><Path>/a&amp;b.html</Path><Path>/&lt;x&gt;\*</Path></Items></Paths><CallerReference>shape-1</CallerReference></InvalidationBatch></Invalidation>$`)
	m := want.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("unexpected body:\n%s", r.body)
	}
	if loc := r.header.Get("Location"); loc != s.URL+invPath+"/"+m[1] {
		t.Errorf("Location %q", loc)
	}
	if r.header.Get("x-amz-request-id") == "" {
		t.Error("no x-amz-request-id")
	}
	list := rawRequest(t, s, "GET", invPath, "")
	var parsed struct {
		XMLName     xml.Name `xml:"http://cloudfront.amazonaws.com/doc/2020-05-31/ InvalidationList"`
		Marker      string
		MaxItems    int
		IsTruncated bool
		Quantity    int
	}
	if err := xml.Unmarshal([]byte(list.body), &parsed); err != nil || parsed.Quantity != 1 || parsed.MaxItems != 100 {
		t.Fatalf("list: %v %+v\n%s", err, parsed, list.body)
	}
	order := regexp.MustCompile(`^<\?xml version="1.0"\?>\n<InvalidationList xmlns="[^"]+"><Marker></Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated><Quantity>1</Quantity><Items><InvalidationSummary><Id>I[A-Z0-9]{13}</Id><CreateTime>[^<]+</CreateTime><Status>(InProgress|Completed)</Status></InvalidationSummary></Items></InvalidationList>$`)
	if !order.MatchString(list.body) {
		t.Errorf("list body not in the model's order:\n%s", list.body)
	}
}
