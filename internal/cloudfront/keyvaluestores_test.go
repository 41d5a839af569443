package cloudfront_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

func newKVSServer(t *testing.T) *apiServer {
	t.Helper()
	store := memory.New()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := resource.NewService(resource.Config{Store: store, Rules: cloudfront.KeyValueStoreRules(), Logger: quiet})
	h := cloudfront.NewHandler(cloudfront.Config{ResourceServices: []*resource.Service{svc}, AccountID: "123456789012", Logger: quiet})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &apiServer{t: t, url: srv.URL, store: store, svcs: map[resource.Kind]*resource.Service{resource.KeyValueStore: svc}}
}

const createKVS = `<CreateKeyValueStoreRequest ` + ns + `><Name>wire</Name><Comment>c</Comment></CreateKeyValueStoreRequest>`

var kvsDoc = regexp.MustCompile(`^<\?xml version="1.0"\?>\n<KeyValueStore ` + ns + `><Name>wire</Name><Id>([0-9a-f-]{36})</Id><Comment>c</Comment>` +
	`<ARN>arn:aws:cloudfront::123456789012:key-value-store/([0-9a-f-]{36})</ARN><Status>READY</Status>` +
	`<LastModifiedTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z</LastModifiedTime></KeyValueStore>$`)

// kvsError checks a data-plane error: status, x-amzn-ErrorType and a
// JSON body with a Message.
func kvsError(t *testing.T, a answer, status int, typ string) {
	t.Helper()
	var body struct{ Message string }
	if a.status != status || a.header.Get("X-Amzn-Errortype") != typ || json.Unmarshal([]byte(a.body), &body) != nil || body.Message == "" ||
		a.header.Get("Content-Type") != "application/json" {
		t.Errorf("got %d %q %s, want %d %s", a.status, a.header.Get("X-Amzn-Errortype"), a.body, status, typ)
	}
}

func TestKeyValueStoreWire(t *testing.T) {
	s := newKVSServer(t)
	a := s.do("POST", "/2020-05-31/key-value-store", createKVS)
	m := kvsDoc.FindStringSubmatch(a.body)
	if a.status != 201 || m == nil || m[1] != m[2] || a.header.Get("ETag") == "" || !strings.HasSuffix(a.header.Get("Location"), "/2020-05-31/key-value-store/"+m[1]) {
		t.Fatalf("create: %d %v\n%s", a.status, a.header, a.body)
	}
	id, cetag := m[1], a.header.Get("ETag")
	arn := "arn:aws:cloudfront::123456789012:key-value-store/" + id
	store := "/key-value-stores/" + url.PathEscape(arn)

	// Control plane: If-Match is required; the name is the path's.
	upd := `<UpdateKeyValueStoreRequest ` + ns + `><Comment>d</Comment></UpdateKeyValueStoreRequest>`
	if a := s.do("PUT", "/2020-05-31/key-value-store/wire", upd); a.status != 400 || errorCode(a.body) != "InvalidIfMatchVersion" {
		t.Errorf("update without If-Match: %d %s", a.status, a.body)
	}
	if a := s.do("DELETE", "/2020-05-31/key-value-store/wire", ""); a.status != 400 || errorCode(a.body) != "InvalidIfMatchVersion" {
		t.Errorf("delete without If-Match: %d %s", a.status, a.body)
	}
	if a := s.do("PUT", "/2020-05-31/key-value-store/nope", upd, "If-Match", cetag); a.status != 404 || errorCode(a.body) != "EntityNotFound" {
		t.Errorf("update of an unknown store: %d %s", a.status, a.body)
	}
	if a := s.do("GET", "/2020-05-31/key-value-store?Status=BROKEN", ""); a.status != 400 || errorCode(a.body) != "InvalidArgument" {
		t.Errorf("list with a bad Status: %d %s", a.status, a.body)
	}
	long := `<CreateKeyValueStoreRequest ` + ns + `><Name>x</Name><Comment>` + strings.Repeat("c", 129) + `</Comment></CreateKeyValueStoreRequest>`
	if a := s.do("POST", "/2020-05-31/key-value-store", long); a.status != 400 || errorCode(a.body) != "InvalidArgument" {
		t.Errorf("a 129-byte comment: %d %s", a.status, a.body)
	}

	// Data plane.
	d := s.do("GET", store, "")
	detag := d.header.Get("ETag")
	if d.status != 200 || detag == "" || !strings.Contains(d.body, `"ItemCount":0`) {
		t.Fatalf("describe: %d %s", d.status, d.body)
	}
	kvsError(t, s.do("PUT", store+"/keys/k", `{"Value":"v"}`), 400, "ValidationException") // no If-Match
	kvsError(t, s.do("PUT", store+"/keys/k", `{"Value":`, "If-Match", detag), 400, "SerializationException")
	kvsError(t, s.do("PUT", store+"/keys/k", `{"Valeur":"v"}`, "If-Match", detag), 400, "SerializationException")
	kvsError(t, s.do("PUT", store+"/keys/k", `{}`, "If-Match", detag), 400, "ValidationException")
	kvsError(t, s.do("PUT", store+"/keys/k", `{"Value":"`+strings.Repeat("v", 20<<10)+`"}`, "If-Match", detag), 400, "ValidationException")
	kvsError(t, s.do("POST", store+"/keys", `{"Puts":[`+strings.Repeat(`{"Key":"k","Value":"v"},`, 200<<10)+`{"Key":"k","Value":"v"}]}`, "If-Match", detag), 402, "ServiceQuotaExceededException")
	kvsError(t, s.do("PUT", store+"/keys/k", `{"Value":"v"}`, "If-Match", "STALE"), 409, "ConflictException")
	kvsError(t, s.do("GET", store+"/keys?MaxResults=51", ""), 400, "ValidationException")
	kvsError(t, s.do("GET", store+"/keys?NextToken=%21%21", ""), 400, "ValidationException")
	kvsError(t, s.do("GET", "/key-value-stores/"+url.PathEscape("arn:aws:cloudfront::999999999999:key-value-store/"+id), ""), 404, "ResourceNotFoundException")
	kvsError(t, s.do("PATCH", store, ""), 404, "UnknownOperationException")
	p := s.do("PUT", store+"/keys/k", `{"Value":"v"}`, "If-Match", detag)
	if p.status != 200 || p.body != `{"ItemCount":1,"TotalSizeInBytes":2}` || p.header.Get("ETag") == detag {
		t.Fatalf("put: %d %s %v", p.status, p.body, p.header)
	}
	// The control plane's ETag did not change; its If-Match is its own.
	if a := s.do("GET", "/2020-05-31/key-value-store/wire", ""); a.header.Get("ETag") != cetag {
		t.Errorf("control-plane ETag %q after a key write, want %q", a.header.Get("ETag"), cetag)
	}
	if a := s.do("PUT", "/2020-05-31/key-value-store/wire", upd, "If-Match", p.header.Get("ETag")); a.status != 412 || errorCode(a.body) != "PreconditionFailed" {
		t.Errorf("update with the data plane's ETag: %d %s", a.status, a.body)
	}
	a = s.do("PUT", "/2020-05-31/key-value-store/wire", upd, "If-Match", cetag)
	if a.status != 200 || !strings.Contains(a.body, "<Comment>d</Comment>") || a.header.Get("ETag") == cetag {
		t.Fatalf("update: %d %s", a.status, a.body)
	}
	cetag = a.header.Get("ETag")
	// The keys survive a control-plane update.
	if g := s.do("GET", store+"/keys/k", ""); g.status != 200 || g.body != `{"Key":"k","Value":"v","ItemCount":1,"TotalSizeInBytes":2}` {
		t.Errorf("get after the update: %d %s", g.status, g.body)
	}

	// A function that refers to the store keeps it from being deleted.
	ctx := context.Background()
	fn := resource.Resource{Kind: resource.Function, ID: "fn", Name: "fn", ETag: "E1", Refs: []resource.Ref{{Kind: resource.KeyValueStore, ID: id}}}
	if _, err := s.store.CreateResource(ctx, fn, nil); err != nil {
		t.Fatal(err)
	}
	if a := s.do("DELETE", "/2020-05-31/key-value-store/wire", "", "If-Match", cetag); a.status != 409 || errorCode(a.body) != "CannotDeleteEntityWhileInUse" {
		t.Errorf("delete of a store in use: %d %s", a.status, a.body)
	}
	if err := s.store.DeleteResource(ctx, resource.Function, "fn", nil); err != nil {
		t.Fatal(err)
	}
	if a := s.do("DELETE", "/2020-05-31/key-value-store/wire", "", "If-Match", cetag); a.status != 204 {
		t.Errorf("delete: %d %s", a.status, a.body)
	}
	kvsError(t, s.do("GET", store, ""), 404, "ResourceNotFoundException")
}
