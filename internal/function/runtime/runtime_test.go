package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/function"
)

const viewerRequest = `{"version":"1.0","context":{"distributionDomainName":"d111111abcdef8.cloudfront.net","distributionId":"EDFDVBD6EXAMPLE","eventType":"viewer-request","requestId":"4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},"viewer":{"ip":"198.51.100.11"},"request":{"method":"GET","uri":"/media/","querystring":{"a":{"value":"1"}},"headers":{"host":{"value":"example.org"},"accept":{"value":"text/html","multiValue":[{"value":"text/html"},{"value":"*/*"}]}},"cookies":{"id":{"value":"CookieIdValue"}}}}`

func mustCompile(t *testing.T, rt, code string) *Program {
	t.Helper()
	p, err := Compile(rt, []byte(code))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func output(t *testing.T, r Result) map[string]any {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("run error: %s (logs %q)", r.Error, r.Logs)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Output, &m); err != nil {
		t.Fatalf("output %q: %v", r.Output, err)
	}
	return m
}

func TestRewriteURI(t *testing.T) {
	for _, rt := range []string{function.RuntimeJS1, function.RuntimeJS2} {
		p := mustCompile(t, rt, `function handler(event) {
  var request = event.request;
  if (request.uri.endsWith('/')) { request.uri += 'index.html'; }
  request.headers['x-seen'] = {value: event.context.eventType + ' ' + event.viewer.ip};
  console.log('uri', request.uri, {a: 1});
  return request;
}`)
		r := p.Run(context.Background(), []byte(viewerRequest), nil)
		out := output(t, r)
		req := out["request"].(map[string]any)
		if req["uri"] != "/media/index.html" {
			t.Errorf("%s: uri = %v", rt, req["uri"])
		}
		if h := req["headers"].(map[string]any)["x-seen"].(map[string]any)["value"]; h != "viewer-request 198.51.100.11" {
			t.Errorf("%s: x-seen = %v", rt, h)
		}
		if len(r.Logs) != 1 || r.Logs[0] != `uri /media/index.html {"a":1}` {
			t.Errorf("%s: logs = %q", rt, r.Logs)
		}
		if r.ComputeUtilization < 1 || r.ComputeUtilization > 100 {
			t.Errorf("utilization %d", r.ComputeUtilization)
		}
	}
}

func TestCompileRuntimeSyntax(t *testing.T) {
	cases := []struct {
		rt, code string
		ok       bool
	}{
		{function.RuntimeJS1, `function handler(e) { var x = 1; return e.request; }`, true},
		{function.RuntimeJS1, "function handler(e) { var f = (x) => `${x}`; return e.request; }", true},
		{function.RuntimeJS1, `function handler(e) { const x = 1; return e.request; }`, false},
		{function.RuntimeJS1, `function handler(e) { for (let k in e) {} return e.request; }`, false},
		{function.RuntimeJS1, `async function handler(e) { return e.request; }`, false},
		{function.RuntimeJS1, `import cf from 'cloudfront'; function handler(e) { return e.request; }`, false},
		{function.RuntimeJS2, `import cf from 'cloudfront'; async function handler(e) { const x = await Promise.resolve(1); return e.request; }`, true},
		{function.RuntimeJS2, `import fs from 'fs'; function handler(e) { return e.request; }`, false},
		{function.RuntimeJS2, `function handler(e) { return e.request`, false},
		{function.RuntimeJS2, `function notHandler(e) { return e.request; }`, false},
		{function.RuntimeJS2, `throw new Error('top');  function handler(e) {}`, false},
		{"cloudfront-js-3.0", `function handler(e) {}`, false},
	}
	for _, c := range cases {
		_, err := Compile(c.rt, []byte(c.code))
		if (err == nil) != c.ok {
			t.Errorf("%s %q: err = %v", c.rt, c.code, err)
		}
		var ce *CompileError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("%q: %T is not a *CompileError", c.code, err)
		}
	}
	_, err := Compile(function.RuntimeJS2, []byte("function handler(e) {\n  return e.request +;\n}"))
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Errorf("syntax error position: %#v", err)
	}
	if _, err := Compile(function.RuntimeJS2, []byte("function handler(e) {}//"+strings.Repeat("x", MaxCodeSize))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large code: %v", err)
	}
}

func TestThrowAndInvalidReturn(t *testing.T) {
	p := mustCompile(t, function.RuntimeJS2, `function handler(e) { if (e.request.uri == '/x') throw new TypeError('boom'); if (e.request.uri == '/u') return; return e.request; }`)
	run := func(uri string) Result {
		return p.Run(context.Background(), []byte(strings.Replace(viewerRequest, `"/media/"`, `"`+uri+`"`, 1)), nil)
	}
	if r := run("/x"); r.Error != "TypeError: boom" || r.Output != nil {
		t.Errorf("throw: %+v", r)
	}
	if r := run("/u"); !strings.Contains(r.Error, "invalid value") {
		t.Errorf("undefined: %+v", r)
	}
	// The VM that threw was dropped: the next run works.
	output(t, run("/ok"))
	if r := p.Run(context.Background(), []byte("{"), nil); r.Error == "" {
		t.Errorf("bad JSON: %+v", r)
	}
}

func TestBudget(t *testing.T) {
	p, err := CompileWith(function.RuntimeJS2, []byte(`function handler(e) { if (e.request.uri == '/loop') { for (;;) {} } return e.request; }`), Options{Budget: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uri := "/ok"
			if i%2 == 0 {
				uri = "/loop"
			}
			results[i] = p.Run(context.Background(), []byte(strings.Replace(viewerRequest, `"/media/"`, `"`+uri+`"`, 1)), nil)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if i%2 == 0 {
			if !strings.Contains(r.Error, "compute utilization") || r.ComputeUtilization != 100 {
				t.Errorf("loop %d: %+v", i, r)
			}
		} else {
			output(t, r)
		}
	}
	// A loop at the top level is refused at compile.
	if _, err := CompileWith(function.RuntimeJS1, []byte(`while (true) {} function handler(e) {}`), Options{Budget: 10 * time.Millisecond}); err == nil {
		t.Error("a looping top level compiled")
	}
	// Recursion and large strings are bounded.
	p2 := mustCompile(t, function.RuntimeJS2, `function f(n) { return f(n+1) + 1 } function handler(e) { if (e.request.uri == '/r') f(0); return {statusCode: 200, body: 'x'.repeat(1e9)}; }`)
	for _, uri := range []string{"/r", "/s"} {
		r := p2.Run(context.Background(), []byte(strings.Replace(viewerRequest, `"/media/"`, `"`+uri+`"`, 1)), nil)
		if r.Error == "" {
			t.Errorf("%s: no error", uri)
		}
	}
}

func TestNoHostAccess(t *testing.T) {
	for _, expr := range []string{`require('fs')`, `require('child_process')`, `eval('1')`, `Function('return 1')()`, `(function(){}).constructor('return this')()`, `setTimeout(function(){}, 1)`, `process.env`} {
		p := mustCompile(t, function.RuntimeJS2, `function handler(e) { `+expr+`; return e.request; }`)
		if r := p.Run(context.Background(), []byte(viewerRequest), nil); r.Error == "" {
			t.Errorf("%s ran", expr)
		}
	}
}
