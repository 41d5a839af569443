// Package runtime runs CloudFront Functions: it checks a function's code
// for its runtime (cloudfront-js-1.0 or cloudfront-js-2.0) the way
// CloudFront does when the code is created or updated, and runs the
// handler on viewer events within CloudFront's limits.
//
// The engine is goja (pure Go; docs/architecture.md, "CloudFront
// Functions", says why). A Program is compiled once per version of the
// code and runs on a pool of VMs, each of which ran the code's top level
// once; a run borrows a VM, so concurrent runs never share one. A run that
// throws, returns something that is not an event, or exhausts its budget
// gives an error Result, and its VM is dropped rather than reused. The
// engine has no file, network, process or timer access, and the runtime
// adds none: require and import know only CloudFront's modules.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"github.com/openfront/openfront/internal/function"
)

// The limits CloudFront documents for a function, and the ones openfront
// adds where the engine needs one (docs/architecture.md's limits table).
const (
	// MaxCodeSize is the largest function code, in bytes (CloudFront's
	// quota: 10 KB).
	MaxCodeSize = 10 * 1024
	// MaxLogBytes is how much console.log output a run keeps: CloudFront
	// truncates function logs at 10 KB.
	MaxLogBytes = 10 * 1024
	// MaxStringBytes caps the strings that String.prototype.repeat,
	// padStart and padEnd build: CloudFront's function memory is 2 MB,
	// which goja does not measure; these are the builtins that allocate
	// the most in one call.
	MaxStringBytes = 2 * 1024 * 1024
	// MaxCallDepth bounds recursion.
	MaxCallDepth = 1000
	// DefaultBudget is the CPU time a run may take before it is
	// interrupted: 100% compute utilization (watchdog.go).
	DefaultBudget = 10 * time.Millisecond
)

// ErrTooLarge is Compile's error for code over MaxCodeSize (the API
// answers FunctionSizeLimitExceeded).
var ErrTooLarge = errors.New("function code exceeds " + fmt.Sprint(MaxCodeSize) + " bytes")

// CompileError says why code does not compile for its runtime. Its
// message is what CloudFront's InvalidArgument error carries.
type CompileError struct {
	Line, Column int    // 1-based; 0 when unknown
	Message      string // the engine's or the runtime's reason
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("The function code is invalid: line %d, column %d: %s", e.Line, e.Column, e.Message)
	}
	return "The function code is invalid: " + e.Message
}

// Options are what a Program needs beside its code.
type Options struct {
	// KeyValueStoreARNs are the stores associated with the function:
	// cf.kvs() reads the first, cf.kvs(id) the one whose ARN ends in id.
	KeyValueStoreARNs []string
	// Budget is the time a run may take; zero means DefaultBudget.
	Budget time.Duration
}

// Program is compiled function code, ready to run. It is safe for
// concurrent use.
type Program struct {
	runtime string
	prog    *goja.Program
	opts    Options
	budget  time.Duration
	// idle holds VMs between runs. A channel rather than a sync.Pool,
	// which a garbage collection empties: a VM costs far more to make
	// than a run.
	idle chan *vm
}

// MaxIdleVMs is how many idle VMs a Program keeps; more are made while
// runs overlap, and dropped after.
const MaxIdleVMs = 16

func (p *Program) get() (*vm, error) {
	select {
	case v := <-p.idle:
		return v, nil
	default:
		return p.newVM()
	}
}

func (p *Program) put(v *vm) {
	select {
	case p.idle <- v:
	default:
	}
}

// Compile checks code for runtime (function.RuntimeJS1 or RuntimeJS2) as
// CloudFront does at CreateFunction and UpdateFunction: it must parse,
// use only the runtime's syntax, import only CloudFront's modules and
// declare a function named handler. The error is ErrTooLarge, or a
// *CompileError.
func Compile(runtime string, code []byte) (*Program, error) {
	return CompileWith(runtime, code, Options{})
}

// CompileCode compiles a stage of a function with its associated stores.
func CompileCode(c *function.Code, budget time.Duration) (*Program, error) {
	return CompileWith(c.Runtime, c.Code, Options{KeyValueStoreARNs: c.KeyValueStoreARNs, Budget: budget})
}

// importRe matches the import statements CloudFront accepts, at the start
// of a line: import name from 'module'.
var importRe = regexp.MustCompile(`(?m)^[ \t]*import[ \t]+([A-Za-z_$][A-Za-z0-9_$]*)[ \t]+from[ \t]*(?:'([^'\n]*)'|"([^"\n]*)")[ \t]*;?`)

// CompileWith is Compile with options.
func CompileWith(runtime string, code []byte, opts Options) (*Program, error) {
	if len(code) > MaxCodeSize {
		return nil, ErrTooLarge
	}
	js2 := false
	switch runtime {
	case function.RuntimeJS1:
	case function.RuntimeJS2:
		js2 = true
	default:
		return nil, &CompileError{Message: fmt.Sprintf("unknown runtime %q", runtime)}
	}
	src := string(code)
	// Imports become declarations on the same line, so that line numbers
	// in errors still match the code.
	var importErr *CompileError
	src = importRe.ReplaceAllStringFunc(src, func(m string) string {
		g := importRe.FindStringSubmatch(m)
		mod := g[2] + g[3]
		if !js2 {
			importErr = &CompileError{Message: "SyntaxError: import statements are not supported in " + function.RuntimeJS1}
		} else if !knownModule(mod, true) {
			importErr = &CompileError{Message: fmt.Sprintf("SyntaxError: unknown module %q", mod)}
		}
		return "var " + g[1] + " = require(" + quote(mod) + ");"
	})
	if importErr != nil {
		return nil, importErr
	}
	astProg, err := parser.ParseFile(nil, "function.js", src, 0)
	if err != nil {
		return nil, syntaxError(err)
	}
	if !js2 {
		if bad := es5Only(astProg); bad != "" {
			return nil, &CompileError{Message: "SyntaxError: " + bad + " is not supported in " + function.RuntimeJS1}
		}
	}
	if !declaresHandler(astProg) {
		return nil, &CompileError{Message: "the code must declare a function named handler"}
	}
	prog, err := goja.CompileAST(astProg, false)
	if err != nil {
		return nil, syntaxError(err)
	}
	p := &Program{runtime: runtime, prog: prog, opts: opts, budget: opts.Budget, idle: make(chan *vm, MaxIdleVMs)}
	if p.budget <= 0 {
		p.budget = DefaultBudget
	}
	// The top level must run: a throw there is an invalid function too.
	v, err := p.newVM()
	if err != nil {
		return nil, &CompileError{Message: err.Error()}
	}
	p.put(v)
	return p, nil
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// syntaxError turns the parser's or compiler's error into a CompileError.
func syntaxError(err error) *CompileError {
	var list parser.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		e := list[0]
		return &CompileError{Line: e.Position.Line, Column: e.Position.Column, Message: "SyntaxError: " + e.Message}
	}
	var se *goja.CompilerSyntaxError
	if errors.As(err, &se) {
		ce := &CompileError{Message: "SyntaxError: " + se.Message}
		if se.File != nil {
			pos := se.File.Position(se.Offset)
			ce.Line, ce.Column = pos.Line, pos.Column
		}
		return ce
	}
	return &CompileError{Message: "SyntaxError: " + err.Error()}
}

// declaresHandler says whether the top level declares function handler
// (or a var handler = function ...).
func declaresHandler(p *ast.Program) bool {
	for _, s := range p.Body {
		switch s := s.(type) {
		case *ast.FunctionDeclaration:
			if s.Function.Name != nil && s.Function.Name.Name == "handler" {
				return true
			}
		case *ast.VariableStatement:
			for _, b := range s.List {
				if id, ok := b.Target.(*ast.Identifier); ok && id.Name == "handler" {
					return true
				}
			}
		case *ast.LexicalDeclaration:
			for _, b := range s.List {
				if id, ok := b.Target.(*ast.Identifier); ok && id.Name == "handler" {
					return true
				}
			}
		}
	}
	return false
}

// es5Only returns the first construct of p that cloudfront-js-1.0 does not
// accept (const and let, async and await), or "".
func es5Only(p *ast.Program) string {
	found := ""
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if found != "" || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Interface:
			walk(v.Elem())
			return
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			switch n := v.Interface().(type) {
			case *ast.LexicalDeclaration:
				found = n.Token.String()
				return
			case *ast.FunctionLiteral:
				if n.Async {
					found = "async"
					return
				}
			case *ast.ArrowFunctionLiteral:
				if n.Async {
					found = "async"
					return
				}
			case *ast.AwaitExpression:
				found = "await"
				return
			case *ast.ForInStatement, *ast.ForOfStatement:
				if lexicalInto(n) {
					found = "const and let"
					return
				}
			}
			walk(v.Elem())
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(p))
	return found
}

// lexicalInto reports whether a for-in/of binds with
// const or let: their Into is a ForDeclaration.
func lexicalInto(n any) bool {
	var into ast.ForInto
	switch n := n.(type) {
	case *ast.ForInStatement:
		into = n.Into
	case *ast.ForOfStatement:
		into = n.Into
	}
	_, ok := into.(*ast.ForDeclaration)
	return ok
}

// KeyValues is what cf.kvs() reads: the edge's copy of the key value
// stores (the KeyValueStore work implements it).
type KeyValues interface {
	// Get returns the value of key in the store storeARN; found is false
	// when the store has no such key.
	Get(ctx context.Context, storeARN, key string) (value string, found bool, err error)
}

// Result is what a run gives, as TestFunction reports it.
type Result struct {
	// Output is the returned event as JSON ({"request": ...} or
	// {"response": ...}); empty on error.
	Output []byte
	// Logs are the console.log lines, at most MaxLogBytes in all.
	Logs []string
	// Error is the FunctionErrorMessage; empty when the run succeeded.
	Error string
	// ComputeUtilization is the run's time as a percentage of the budget.
	ComputeUtilization int
}

// Runtime returns the runtime the program was compiled for.
func (p *Program) Runtime() string { return p.runtime }

// Run runs the handler on an event given as JSON (as TestFunction
// receives it) and returns what TestFunction reports. It never panics;
// a throw, an invalid return value or an exhausted budget is an error
// Result.
func (p *Program) Run(ctx context.Context, eventJSON []byte, kv KeyValues) Result {
	var res Result
	err := p.run(ctx, kv, &res, func(v *vm) (goja.Value, error) {
		ev, err := v.jsonParse(goja.Undefined(), v.rt.ToValue(string(eventJSON)))
		if err != nil {
			return nil, fmt.Errorf("the event object is not valid JSON: %w", err)
		}
		return ev, nil
	}, func(v *vm, out *goja.Object) error {
		key := "request"
		if out.Get("statusCode") != nil && !goja.IsUndefined(out.Get("statusCode")) {
			key = "response"
		}
		wrap := v.rt.NewObject()
		_ = wrap.Set(key, out)
		s, err := v.jsonStringify(goja.Undefined(), wrap)
		if err != nil {
			return err
		}
		res.Output = []byte(s.String())
		return nil
	})
	if err != nil {
		res.Error = err.Error()
		res.Output = nil
	}
	return res
}

// run borrows a VM, builds the event with in, calls the handler within the
// budget, awaits a promise it returns, and hands the returned object to
// out. It fills res's logs and utilization and returns the run's error.
func (p *Program) run(ctx context.Context, kv KeyValues, res *Result, in func(*vm) (goja.Value, error), out func(*vm, *goja.Object) error) (err error) {
	v, err := p.get()
	if err != nil {
		return err
	}
	v.ctx, v.kv, v.logs, v.logBytes = ctx, kv, nil, 0
	wd := &v.wd
	wd.begin(v.rt, p.budget)
	reuse := true
	defer func() {
		if r := recover(); r != nil {
			err, reuse = fmt.Errorf("the function could not run: %v", r), false
		}
		used, fired := wd.stop()
		if fired {
			reuse = false // the interrupt may still be pending: the VM is spent
		}
		res.ComputeUtilization = utilization(used, p.budget)
		if fired {
			res.ComputeUtilization = 100 // the run used all it was allowed
		}
		res.Logs = v.logs
		v.ctx, v.kv, v.logs = nil, nil, nil
		if err != nil {
			reuse = false
		}
		if reuse {
			p.put(v)
		}
	}()
	ev, err := in(v)
	if err != nil {
		return err
	}
	ret, err := v.handler(goja.Undefined(), ev)
	if err != nil {
		return jsError(err)
	}
	if o, ok := ret.(*goja.Object); ok && o.ExportType() == promiseType {
		pr, _ := o.Export().(*goja.Promise)
		switch pr.State() {
		case goja.PromiseStateFulfilled:
			ret = pr.Result()
		case goja.PromiseStateRejected:
			return errors.New(valueMessage(pr.Result()))
		default:
			return errors.New("the function did not return: its promise never settled")
		}
	}
	obj, ok := ret.(*goja.Object)
	if !ok || ret == nil || goja.IsUndefined(ret) || goja.IsNull(ret) {
		return errors.New("The CloudFront function returned an invalid value: the handler must return a request or a response object")
	}
	return out(v, obj)
}

var promiseType = reflect.TypeFor[*goja.Promise]()

func utilization(elapsed, budget time.Duration) int {
	u := int((elapsed*100 + budget - 1) / budget)
	return min(max(u, 1), 100)
}

// errBudget is the interrupt value of a run over its budget.
var errBudget = errors.New("The function exceeded the maximum allowed compute utilization")

// jsError turns what goja returns for a failed call into the error
// message TestFunction reports.
func jsError(err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		if e, ok := ie.Value().(error); ok {
			return e
		}
		return errBudget
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return errors.New(valueMessage(ex.Value()))
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return errors.New("RangeError: Maximum call stack size exceeded")
	}
	return err
}

// valueMessage is how a thrown value reads: "Error: message" for errors.
func valueMessage(v goja.Value) string {
	if v == nil {
		return "undefined"
	}
	if o, ok := v.(*goja.Object); ok {
		if name, msg := o.Get("name"), o.Get("message"); name != nil && msg != nil {
			return name.String() + ": " + msg.String()
		}
	}
	return v.String()
}
