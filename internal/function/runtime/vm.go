package runtime

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/openfront/openfront/internal/function"
)

// vm is one goja runtime that ran the program's top level. Used by one
// run at a time: the fields below are the current run's.
type vm struct {
	p                        *Program
	rt                       *goja.Runtime
	handler                  goja.Callable
	jsonParse, jsonStringify goja.Callable
	bufferFrom               goja.Callable // nil in cloudfront-js-1.0

	ctx      context.Context
	kv       KeyValues
	logs     []string
	logBytes int
	wd       watchdog // the run's, reused from run to run
}

// prelude defines what is written most simply in JavaScript: Buffer (2.0)
// and the module table. It runs before the function's code.
const prelude = `(function(g, host) {
  'use strict';
  var modules = {crypto: host.crypto, querystring: host.querystring};
  if (host.js2) {
    var B = function Buffer() { throw new TypeError('Buffer() is not a constructor: use Buffer.from'); };
    var wrap = function(bytes) { var u = new Uint8Array(bytes); Object.setPrototypeOf(u, B.prototype); return u; };
    B.prototype = Object.create(Uint8Array.prototype);
    B.prototype.constructor = B;
    B.from = function(v, enc) {
      if (typeof v === 'string') return wrap(host.decode(v, enc === undefined ? 'utf8' : String(enc)));
      if (v instanceof ArrayBuffer) return wrap(v.slice(0));
      if (v && typeof v.length === 'number') { var u = new Uint8Array(v.length); for (var i = 0; i < v.length; i++) u[i] = v[i] & 255; return wrap(u.buffer); }
      throw new TypeError('The first argument must be a string, Buffer, ArrayBuffer or Array');
    };
    B.alloc = function(n, fill) { var u = new Uint8Array(host.size(n)); if (fill !== undefined) u.fill(typeof fill === 'number' ? fill : B.from(String(fill))[0]); return wrap(u.buffer); };
    B.isBuffer = function(v) { return v instanceof B; };
    B.byteLength = function(s, enc) { return typeof s === 'string' ? B.from(s, enc).length : s.byteLength; };
    B.concat = function(list) { var n = 0, i; for (i = 0; i < list.length; i++) n += list[i].length; var u = new Uint8Array(host.size(n)), o = 0; for (i = 0; i < list.length; i++) { u.set(list[i], o); o += list[i].length; } return wrap(u.buffer); };
    B.prototype.toString = function(enc, start, end) { var s = this.subarray(start || 0, end === undefined ? this.length : end); return host.encode(s.buffer.slice(s.byteOffset, s.byteOffset + s.length), enc === undefined ? 'utf8' : String(enc)); };
    B.prototype.toJSON = function() { return {type: 'Buffer', data: Array.prototype.slice.call(this)}; };
    B.prototype.equals = function(o) { if (this.length !== o.length) return false; for (var i = 0; i < this.length; i++) if (this[i] !== o[i]) return false; return true; };
    B.prototype.slice = B.prototype.subarray = function(s, e) { var u = Uint8Array.prototype.subarray.call(this, s, e); Object.setPrototypeOf(u, B.prototype); return u; };
    g.Buffer = B;
    modules.buffer = {Buffer: B};
    modules.cloudfront = host.cloudfront;
    host.bufferFrom = B.from;
  }
  g.require = function(name) {
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    throw new Error('Cannot find module \'' + name + '\'');
  };
  var thrower = function() { throw new EvalError('Dynamic code evaluation is not supported'); };
  g.eval = thrower;
  var F = Function.prototype.constructor;
  thrower.prototype = F.prototype;
  Object.defineProperty(Function.prototype, 'constructor', {value: thrower});
  g.Function = thrower;
  var cap = function(name) {
    var orig = String.prototype[name];
    String.prototype[name] = function(n) {
      var len = name === 'repeat' ? this.length * n : n;
      if (len > host.maxString) throw new RangeError('Invalid string length');
      return orig.apply(this, arguments);
    };
  };
  cap('repeat'); cap('padStart'); cap('padEnd');
})`

// knownModule says whether require and import accept name.
func knownModule(name string, js2 bool) bool {
	switch name {
	case "crypto", "querystring":
		return true
	case "cloudfront", "buffer":
		return js2
	}
	return false
}

// newVM makes a runtime for p and runs the code's top level in it.
func (p *Program) newVM() (v *vm, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the function could not be set up: %v", r)
		}
	}()
	rt := goja.New()
	rt.SetMaxCallStackSize(MaxCallDepth)
	v = &vm{p: p, rt: rt}
	js2 := p.runtime == function.RuntimeJS2
	host := rt.NewObject()
	must(host.Set("js2", js2))
	must(host.Set("maxString", MaxStringBytes))
	must(host.Set("crypto", v.cryptoModule(js2)))
	must(host.Set("querystring", v.querystringModule()))
	must(host.Set("size", func(n int64) int64 {
		if n < 0 || n > MaxStringBytes {
			panic(rt.NewTypeError("The value of \"size\" is out of range"))
		}
		return n
	}))
	must(host.Set("decode", func(s, enc string) goja.ArrayBuffer { return rt.NewArrayBuffer(v.decode(s, enc)) }))
	must(host.Set("encode", func(b goja.ArrayBuffer, enc string) string { return v.encode(b.Bytes(), enc) }))
	if js2 {
		must(host.Set("cloudfront", v.cloudfrontModule()))
	}
	console := rt.NewObject()
	must(console.Set("log", v.log))
	must(rt.Set("console", console))
	pre, err := rt.RunString(prelude)
	if err != nil {
		return nil, err
	}
	fn, _ := goja.AssertFunction(pre)
	if _, err := fn(goja.Undefined(), rt.GlobalObject(), host); err != nil {
		return nil, err
	}
	if js2 {
		v.bufferFrom, _ = goja.AssertFunction(host.Get("bufferFrom"))
	}
	j := rt.Get("JSON").ToObject(rt)
	v.jsonParse, _ = goja.AssertFunction(j.Get("parse"))
	v.jsonStringify, _ = goja.AssertFunction(j.Get("stringify"))
	// The top level runs within the budget too: it may loop.
	wd := watch(rt, p.budget)
	_, err = rt.RunProgram(p.prog)
	if _, fired := wd.stop(); fired || err != nil {
		if err == nil {
			err = errBudget
		}
		return nil, jsError(err)
	}
	h, ok := goja.AssertFunction(rt.Get("handler"))
	if !ok {
		return nil, errors.New("handler is not a function")
	}
	v.handler = h
	return v, nil
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// log is console.log: its arguments joined by spaces, kept while the
// run's logs stay within MaxLogBytes.
func (v *vm) log(call goja.FunctionCall) goja.Value {
	parts := make([]string, len(call.Arguments))
	for i, a := range call.Arguments {
		if o, ok := a.(*goja.Object); ok && o.ClassName() == "Object" {
			if s, err := v.jsonStringify(goja.Undefined(), o); err == nil {
				parts[i] = s.String()
				continue
			}
		}
		parts[i] = a.String()
	}
	line := strings.Join(parts, " ")
	if v.logBytes+len(line) > MaxLogBytes {
		line = truncateUTF8(line, MaxLogBytes-v.logBytes)
	}
	if line != "" || v.logBytes < MaxLogBytes {
		v.logs = append(v.logs, line)
	}
	v.logBytes += len(line) + 1
	return goja.Undefined()
}

func truncateUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// decode turns a string into bytes in one of Buffer's encodings.
func (v *vm) decode(s, enc string) []byte {
	switch strings.ToLower(enc) {
	case "utf8", "utf-8":
		return []byte(s)
	case "hex":
		b, _ := hex.DecodeString(s[:len(s)&^1])
		return b
	case "base64", "base64url":
		s = strings.TrimRight(strings.NewReplacer("-", "+", "_", "/").Replace(s), "=")
		b, err := base64.RawStdEncoding.DecodeString(s)
		if err != nil {
			panic(v.rt.NewTypeError("invalid base64 string"))
		}
		return b
	case "latin1", "binary", "ascii":
		b := make([]byte, 0, len(s))
		for _, r := range s {
			b = append(b, byte(r))
		}
		return b
	}
	panic(v.rt.NewTypeError("Unknown encoding: " + enc))
}

// encode turns bytes into a string in one of Buffer's encodings.
func (v *vm) encode(b []byte, enc string) string {
	switch strings.ToLower(enc) {
	case "utf8", "utf-8":
		return strings.ToValidUTF8(string(b), "\uFFFD")
	case "hex":
		return hex.EncodeToString(b)
	case "base64":
		return base64.StdEncoding.EncodeToString(b)
	case "base64url":
		return base64.RawURLEncoding.EncodeToString(b)
	case "latin1", "binary", "ascii":
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	panic(v.rt.NewTypeError("Unknown encoding: " + enc))
}

// bytesOf reads data given to update() or a key: a string (UTF-8) or a
// Buffer/typed array.
func (v *vm) bytesOf(val goja.Value) []byte {
	switch x := val.Export().(type) {
	case string:
		return []byte(x)
	case []byte:
		return x
	case goja.ArrayBuffer:
		return x.Bytes()
	}
	if o, ok := val.(*goja.Object); ok {
		if buf, ok := o.Get("buffer").Export().(goja.ArrayBuffer); ok {
			off, n := o.Get("byteOffset").ToInteger(), o.Get("byteLength").ToInteger()
			return buf.Bytes()[off : off+n]
		}
	}
	return []byte(val.String())
}

// cryptoModule is require('crypto'): createHash and createHmac with md5,
// sha1, sha256 and sha512; digest() without an encoding returns a
// binary string in 1.0 and a Buffer in 2.0.
func (v *vm) cryptoModule(js2 bool) *goja.Object {
	rt := v.rt
	algs := map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	newObj := func(h hash.Hash) *goja.Object {
		o := rt.NewObject()
		done := false
		must(o.Set("update", func(call goja.FunctionCall) goja.Value {
			if done {
				panic(rt.NewGoError(errors.New("Digest already called")))
			}
			h.Write(v.bytesOf(call.Argument(0)))
			return o
		}))
		must(o.Set("digest", func(call goja.FunctionCall) goja.Value {
			if done {
				panic(rt.NewGoError(errors.New("Digest already called")))
			}
			done = true
			sum := h.Sum(nil)
			enc := call.Argument(0)
			if goja.IsUndefined(enc) {
				if js2 {
					b, err := v.bufferFrom(goja.Undefined(), rt.ToValue(rt.NewArrayBuffer(sum)))
					if err != nil {
						panic(err)
					}
					return b
				}
				return rt.ToValue(v.encode(sum, "latin1"))
			}
			return rt.ToValue(v.encode(sum, enc.String()))
		}))
		return o
	}
	pick := func(name string) func() hash.Hash {
		f, ok := algs[strings.ToLower(name)]
		if !ok {
			panic(rt.NewTypeError("Digest method not supported"))
		}
		return f
	}
	m := rt.NewObject()
	must(m.Set("createHash", func(alg string) *goja.Object { return newObj(pick(alg)()) }))
	must(m.Set("createHmac", func(alg string, key goja.Value) *goja.Object {
		return newObj(hmac.New(pick(alg), v.bytesOf(key)))
	}))
	return m
}

// querystringModule is require('querystring'): parse, stringify, escape
// and unescape as Node's module (and CloudFront's) define them.
func (v *vm) querystringModule() *goja.Object {
	rt := v.rt
	m := rt.NewObject()
	arg := func(call goja.FunctionCall, i int, def string) string {
		if a := call.Argument(i); !goja.IsUndefined(a) && !goja.IsNull(a) {
			return a.String()
		}
		return def
	}
	must(m.Set("escape", func(s string) string { return escape(s) }))
	must(m.Set("unescape", func(s string) string { return unescape(s) }))
	must(m.Set("parse", func(call goja.FunctionCall) goja.Value {
		s, sep, eq := arg(call, 0, ""), arg(call, 1, "&"), arg(call, 2, "=")
		out := rt.NewObject()
		if s == "" {
			return out
		}
		for _, part := range strings.Split(s, sep) {
			if part == "" {
				continue
			}
			k, val, _ := strings.Cut(part, eq)
			k, val = unescape(strings.ReplaceAll(k, "+", " ")), unescape(strings.ReplaceAll(val, "+", " "))
			prev := out.Get(k)
			switch {
			case prev == nil:
				must(out.Set(k, val))
			case isArray(prev):
				arr := prev.(*goja.Object)
				must(arr.Set(fmt.Sprint(arr.Get("length").ToInteger()), val))
			default:
				must(out.Set(k, rt.NewArray(prev, val)))
			}
		}
		return out
	}))
	must(m.Set("stringify", func(call goja.FunctionCall) goja.Value {
		o, ok := call.Argument(0).(*goja.Object)
		if !ok {
			return rt.ToValue("")
		}
		sep, eq := arg(call, 1, "&"), arg(call, 2, "=")
		var parts []string
		str := func(x goja.Value) string {
			switch x.ExportType().Kind().String() {
			case "string", "int64", "float64", "bool":
				return escape(x.String())
			}
			return ""
		}
		for _, k := range o.Keys() {
			val := o.Get(k)
			if isArray(val) {
				arr := val.(*goja.Object)
				for i := range arr.Get("length").ToInteger() {
					parts = append(parts, escape(k)+eq+str(arr.Get(fmt.Sprint(i))))
				}
				continue
			}
			parts = append(parts, escape(k)+eq+str(val))
		}
		return rt.ToValue(strings.Join(parts, sep))
	}))
	return m
}

func isArray(x goja.Value) bool {
	o, ok := x.(*goja.Object)
	return ok && o.ClassName() == "Array"
}

// escape percent-encodes as encodeURIComponent does (Node's
// querystring.escape).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// unescape decodes percent escapes, leaving malformed ones as they are.
func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// cloudfrontModule is 2.0's import cf from 'cloudfront': cf.kvs(id?)
// returns a handle whose get, exists and meta return promises.
func (v *vm) cloudfrontModule() *goja.Object {
	rt := v.rt
	m := rt.NewObject()
	must(m.Set("kvs", func(call goja.FunctionCall) goja.Value {
		arn, err := v.p.storeARN(call.Argument(0))
		if err != nil {
			panic(rt.NewGoError(err))
		}
		h := rt.NewObject()
		lookup := func(key string) (string, bool, error) {
			if v.kv == nil {
				return "", false, errors.New("KeyValueStore is not available")
			}
			ctx := v.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			return v.kv.Get(ctx, arn, key)
		}
		settle := func(f func() (any, error)) goja.Value {
			pr, resolve, reject := rt.NewPromise()
			if val, err := f(); err != nil {
				must(reject(rt.NewGoError(err)))
			} else {
				must(resolve(val))
			}
			return rt.ToValue(pr)
		}
		must(h.Set("get", func(key string, opts goja.Value) goja.Value {
			return settle(func() (any, error) {
				val, found, err := lookup(key)
				if err != nil {
					return nil, err
				}
				if !found {
					return nil, fmt.Errorf("Key %s not found", key)
				}
				format := "string"
				if o, ok := opts.(*goja.Object); ok {
					if f := o.Get("format"); f != nil && !goja.IsUndefined(f) {
						format = f.String()
					}
				}
				switch format {
				case "json":
					return v.jsonParse(goja.Undefined(), rt.ToValue(val))
				case "bytes":
					return v.bufferFrom(goja.Undefined(), rt.ToValue(val))
				}
				return val, nil
			})
		}))
		must(h.Set("exists", func(key string) goja.Value {
			return settle(func() (any, error) {
				_, found, err := lookup(key)
				return found, err
			})
		}))
		must(h.Set("meta", func() goja.Value {
			return settle(func() (any, error) { return nil, errors.New("meta() is not supported") })
		}))
		return h
	}))
	return m
}

// storeARN is the store cf.kvs(id) names: the function's first associated
// store without an id, else the associated store whose ARN ends in id.
func (p *Program) storeARN(id goja.Value) (string, error) {
	if len(p.opts.KeyValueStoreARNs) == 0 {
		return "", errors.New("No KeyValueStore is associated with the function")
	}
	if id == nil || goja.IsUndefined(id) {
		return p.opts.KeyValueStoreARNs[0], nil
	}
	for _, arn := range p.opts.KeyValueStoreARNs {
		if arn == id.String() || strings.HasSuffix(arn, "/"+id.String()) {
			return arn, nil
		}
	}
	return "", fmt.Errorf("KeyValueStore %s is not associated with the function", id.String())
}
