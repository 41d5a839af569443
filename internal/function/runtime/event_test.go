package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/function"
)

func testEvent(uri string) *Event {
	return &Event{
		Context:  EventContext{DistributionDomainName: "d1.cloudfront.net", DistributionID: "E1", EventType: function.ViewerRequest, RequestID: "rid"},
		ViewerIP: "192.0.2.1",
		Request: Request{Method: "GET", URI: uri,
			Querystring: Fields{"a": {Value: "1", MultiValue: []Field{{Value: "1"}, {Value: "2"}}}},
			Headers:     Fields{"host": {Value: "example.org"}},
			Cookies:     Fields{"id": {Value: "c1"}}},
	}
}

const rewriteCode = `function handler(event) {
  var request = event.request;
  if (request.uri.endsWith('/')) { request.uri += 'index.html'; }
  request.headers['x-fn'] = {value: 'on'};
  return request;
}`

func TestHandleRequest(t *testing.T) {
	p := mustCompile(t, function.RuntimeJS2, `function handler(event) {
  var r = event.request;
  r.uri = r.uri + 'index.html';
  r.headers['X-Added'] = {value: [event.context.distributionId, event.viewer.ip, r.querystring.a.multiValue[1].value, r.cookies.id.value].join(',')};
  delete r.cookies.id;
  r.querystring.b = {value: 'x y'};
  return r;
}`)
	out, err := p.Handle(context.Background(), testEvent("/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Request
	if out.Response != nil || r == nil || r.URI != "/index.html" || r.Headers["x-added"].Value != "E1,192.0.2.1,2,c1" || len(r.Cookies) != 0 || r.Querystring["b"].Value != "x y" || len(r.Querystring["a"].MultiValue) != 2 {
		t.Errorf("outcome %+v", r)
	}
}

func TestHandleResponse(t *testing.T) {
	p := mustCompile(t, function.RuntimeJS1, `function handler(event) {
  if (event.context.eventType == 'viewer-response') {
    var resp = event.response;
    resp.headers['x-status'] = {value: String(resp.statusCode)};
    resp.cookies.s = {value: 'v', attributes: 'Path=/'};
    return resp;
  }
  return {statusCode: 302, statusDescription: 'Found', headers: {location: {value: 'https://example.com' + event.request.uri}}, body: {data: 'aGk=', encoding: 'base64'}};
}`)
	out, err := p.Handle(context.Background(), testEvent("/old"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Response; r == nil || r.StatusCode != 302 || r.StatusDescription != "Found" || r.Headers["location"].Value != "https://example.com/old" || string(r.Body) != "hi" || !r.HasBody {
		t.Errorf("generated response %+v", out.Response)
	}
	ev := testEvent("/")
	ev.Context.EventType = function.ViewerResponse
	ev.Response = &Response{StatusCode: 200, Headers: Fields{"content-type": {Value: "text/plain"}}}
	out, err = p.Handle(context.Background(), ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Response; r == nil || r.StatusCode != 200 || r.Headers["x-status"].Value != "200" || r.Headers["content-type"].Value != "text/plain" || r.Cookies["s"].Attributes != "Path=/" || r.HasBody {
		t.Errorf("viewer response %+v", out.Response)
	}
}

func TestHandleInvalid(t *testing.T) {
	for _, ret := range []string{`{statusCode: 99}`, `{statusCode: '200x'}`, `{uri: 'nope', method: 'GET'}`, `{method: 'GET'}`, `{statusCode: 200, body: 'x'.repeat(50000)}`, `{uri: '/', method: 'GET', headers: {a: 'b'}}`, `{statusCode: 200, body: {data: '%%', encoding: 'base64'}}`, `42`} {
		p := mustCompile(t, function.RuntimeJS2, `function handler(e) { return `+ret+`; }`)
		if _, err := p.Handle(context.Background(), testEvent("/"), nil); err == nil || !strings.Contains(err.Error(), "invalid value") {
			t.Errorf("%s: %v", ret, err)
		}
	}
}

type mapKV map[string]string

func (m mapKV) Get(_ context.Context, arn, key string) (string, bool, error) {
	if arn != "arn:aws:cloudfront::123456789012:key-value-store/kvs1" {
		return "", false, errors.New("wrong store " + arn)
	}
	v, ok := m[key]
	return v, ok, nil
}

func TestHelpers(t *testing.T) {
	code := `import cf from 'cloudfront';
import crypto from 'crypto';
const qs = require('querystring');
const kvs = cf.kvs();
async function handler(event) {
  const r = event.request;
  const h = (name, v) => { r.headers[name] = {value: String(v)}; };
  h('md5', crypto.createHash('md5').update('abc').digest('hex'));
  h('sha256', crypto.createHash('sha256').update('abc').digest('base64'));
  h('hmac', crypto.createHmac('sha256', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex'));
  h('rawbuf', Buffer.isBuffer(crypto.createHash('sha1').update('abc').digest()));
  h('buf', Buffer.from('hello').toString('base64') + ' ' + Buffer.from('68656c6c6f', 'hex').toString() + ' ' + Buffer.concat([Buffer.from('a'), Buffer.from('b')]).toString());
  h('qs', qs.stringify({a: 'x y', b: ['1', '2']}) + ' ' + JSON.stringify(qs.parse('a=1&a=2&b=%20c')));
  h('kv', await kvs.get('k') + ' ' + (await kvs.exists('k')) + ' ' + (await kvs.exists('nope')) + ' ' + (await kvs.get('j', {format: 'json'})).n);
  try { await kvs.get('nope'); } catch (e) { h('kverr', e.message); }
  h('tpl', ` + "`${1 + 1}`" + `);
  return r;
}`
	p, err := CompileWith(function.RuntimeJS2, []byte(code), Options{KeyValueStoreARNs: []string{"arn:aws:cloudfront::123456789012:key-value-store/kvs1"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Handle(context.Background(), testEvent("/"), mapKV{"k": "v", "j": `{"n":7}`})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"md5":    "900150983cd24fb0d6963f7d28e17f72",
		"sha256": "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
		"hmac":   "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		"rawbuf": "true",
		"buf":    "aGVsbG8= hello ab",
		"qs":     `a=x%20y&b=1&b=2 {"a":["1","2"],"b":" c"}`,
		"kv":     "v true false 7",
		"kverr":  "Key nope not found",
		"tpl":    "2",
	}
	for k, v := range want {
		if got := out.Request.Headers[k].Value; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Without a KeyValues, lookups fail.
	if _, err := p.Handle(context.Background(), testEvent("/"), nil); err == nil || !strings.Contains(err.Error(), "KeyValueStore") {
		t.Errorf("nil KeyValues: %v", err)
	}
	// 1.0's digest() without an encoding is a binary string.
	p1 := mustCompile(t, function.RuntimeJS1, `var crypto = require('crypto'); function handler(e) { e.request.headers.d = {value: String(crypto.createHash('md5').update('abc').digest().length)}; return e.request; }`)
	out, err = p1.Handle(context.Background(), testEvent("/"), nil)
	if err != nil || out.Request.Headers["d"].Value != "16" {
		t.Errorf("1.0 digest: %v %+v", err, out.Request)
	}
}

func BenchmarkHandle(b *testing.B) {
	p, err := CompileWith(function.RuntimeJS2, []byte(rewriteCode), Options{Budget: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ev := testEvent("/a/")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Handle(context.Background(), ev, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunJSON(b *testing.B) {
	p, err := CompileWith(function.RuntimeJS2, []byte(rewriteCode), Options{Budget: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Run(context.Background(), []byte(viewerRequest), nil); r.Error != "" {
			b.Fatal(r.Error)
		}
	}
}
