// Package jsengines compares the JavaScript engines considered for CloudFront
// Functions (docs/architecture.md, "CloudFront Functions"): goja and
// modernc.org/quickjs, on one viewer-request function. A module of its own,
// so that the main module does not depend on QuickJS. Run with
//
//	cd bench/jsengines && go test -v -run . -bench . -benchtime 2s -cpu 1
package jsengines

import (
	"os"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/dop251/goja"
	"modernc.org/quickjs"
)

const code = `function handler(event) {
  var r = event.request;
  if (r.uri.endsWith('/')) { r.uri += 'index.html'; }
  r.headers['x-fn'] = {value: 'yes'};
  return r;
}`

const ev = `{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"1.2.3.4"},"request":{"method":"GET","uri":"/a/","querystring":{},"headers":{"host":{"value":"x.example"}},"cookies":{}}}`

func BenchmarkGojaJSON(b *testing.B) {
	p := goja.MustCompile("f.js", code, true)
	vm := goja.New()
	vm.RunProgram(p)
	h, _ := goja.AssertFunction(vm.Get("handler"))
	parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	str, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	b.ReportAllocs()
	for b.Loop() {
		e, _ := parse(nil, vm.ToValue(ev))
		out, err := h(nil, e)
		if err != nil {
			b.Fatal(err)
		}
		s, _ := str(nil, out)
		_ = s.String()
	}
}

func BenchmarkGojaTyped(b *testing.B) {
	p := goja.MustCompile("f.js", code, true)
	vm := goja.New()
	vm.RunProgram(p)
	h, _ := goja.AssertFunction(vm.Get("handler"))
	b.ReportAllocs()
	for b.Loop() {
		e := vm.NewObject()
		r := vm.NewObject()
		r.Set("method", "GET")
		r.Set("uri", "/a/")
		hs := vm.NewObject()
		hv := vm.NewObject()
		hv.Set("value", "x.example")
		hs.Set("host", hv)
		r.Set("headers", hs)
		r.Set("querystring", vm.NewObject())
		r.Set("cookies", vm.NewObject())
		e.Set("request", r)
		out, err := h(nil, e)
		if err != nil {
			b.Fatal(err)
		}
		o := out.ToObject(vm)
		_ = o.Get("uri").String()
		ho := o.Get("headers").ToObject(vm)
		for _, k := range ho.Keys() {
			_ = ho.Get(k).ToObject(vm).Get("value").String()
		}
	}
}

func BenchmarkQuickJSON(b *testing.B) {
	vm, err := quickjs.NewVM()
	if err != nil {
		b.Fatal(err)
	}
	defer vm.Close()
	if _, err := vm.Eval(code, quickjs.EvalGlobal); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := vm.Eval("JSON.stringify(handler("+ev+"))", quickjs.EvalGlobal)
		if err != nil {
			b.Fatal(err)
		}
		_ = r.(string)
	}
}

func rss() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	m := regexp.MustCompile(`VmRSS:\s+(\d+)`).FindSubmatch(b)
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}
func TestMem(t *testing.T) {
	const n = 200
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	p := goja.MustCompile("f.js", code, true)
	vms := make([]*goja.Runtime, n)
	r0 := rss()
	for i := range vms {
		vms[i] = goja.New()
		vms[i].RunProgram(p)
		h, _ := goja.AssertFunction(vms[i].Get("handler"))
		h(nil, vms[i].ToValue(map[string]any{"request": map[string]any{"uri": "/", "headers": map[string]any{}}}))
	}
	t.Logf("goja RSS per VM: %d KiB", (rss()-r0)/n)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("goja per VM: %d KiB heap", (m1.HeapAlloc-m0.HeapAlloc)/n/1024)
	runtime.KeepAlive(vms)
	runtime.GC()
	runtime.ReadMemStats(&m0)
	qs := make([]*quickjs.VM, n)
	r0 = rss()
	for i := range qs {
		qs[i], _ = quickjs.NewVM()
		qs[i].Eval(code, quickjs.EvalGlobal)
		qs[i].Eval("JSON.stringify(handler("+ev+"))", quickjs.EvalGlobal)
	}
	t.Logf("quickjs RSS per VM: %d KiB", (rss()-r0)/n)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("quickjs per VM: %d KiB Go heap, %d KiB sys", int64(m1.HeapAlloc-m0.HeapAlloc)/n/1024, int64(m1.Sys-m0.Sys)/n/1024)
	for _, q := range qs {
		q.Close()
	}
}

func TestCompat(t *testing.T) {
	srcs := map[string]string{
		"const/let":   "const a = 1; let b = 2; a+b",
		"arrow":       "[1,2].map(x => x*2).join()",
		"template":    "`a${1+1}`",
		"async":       "(async function(){ const x = await Promise.resolve(1); return x })() instanceof Promise",
		"destructure": "var {a, b} = {a:1,b:2}; a+b",
		"spread":      "Math.max(...[1,2,3])",
		"optional":    "var o = {}; o?.a?.b === undefined",
		"regex-named": "'2020-01'.match(/(?<y>\\d+)-(?<m>\\d+)/).groups.y",
		"padStart":    "'1'.padStart(3,'0')",
		"exponent":    "2**10",
	}
	for name, s := range srcs {
		vm := goja.New()
		v, err := vm.RunString(s)
		q, _ := quickjs.NewVM()
		qv, qerr := q.Eval(s, quickjs.EvalGlobal)
		q.Close()
		t.Logf("%-12s goja=%v %v | quickjs=%v %v", name, v, err, qv, qerr)
	}
}

func TestInterrupt(t *testing.T) {
	vm := goja.New()
	time.AfterFunc(50*time.Millisecond, func() { vm.Interrupt("budget") })
	_, err := vm.RunString("for(;;){}")
	t.Logf("goja: %v", err)
	q, _ := quickjs.NewVM()
	q.SetEvalTimeout(50 * time.Millisecond)
	_, err = q.Eval("for(;;){}", quickjs.EvalGlobal)
	t.Logf("quickjs: %v", err)
	q.Close()
}
