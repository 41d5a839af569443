package cloudfront

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/function"
	"github.com/openfront/openfront/internal/resource"
)

// CloudFront Functions: CreateFunction, DescribeFunction, GetFunction,
// UpdateFunction, PublishFunction, DeleteFunction, ListFunctions and
// TestFunction. A function is one resource (kind resource.Function, Id and
// Name the function's name) whose Config is a function.Function with its
// DEVELOPMENT and LIVE stages, each with its own ETag; UpdateFunction,
// PublishFunction and DeleteFunction take DEVELOPMENT's as If-Match
// (FunctionRules' IfMatchETag). The resource's own ETag is new on every
// write, so that edges, which key versions by it, see each publish.

// FunctionRuntime compiles and runs functions' code. The Handler refuses
// code that does not compile with it, and TestFunction runs the code in
// it; without one, code is stored unchecked and TestFunction answers
// UnsupportedOperation.
type FunctionRuntime interface {
	// Compile returns why code does not compile for runtime (a syntax
	// error, as the engine words it), nil when it does; kvs are the
	// KeyValueStore ARNs associated with it (cf.kvs() may name them in
	// its top level).
	Compile(runtime string, code []byte, kvs []string) error
	// Test runs code on a test event (the event object's JSON) and
	// reports what it did; an error is a failure of the engine itself,
	// not of the function.
	Test(ctx context.Context, runtime string, code []byte, kvs []string, event []byte) (FunctionTestResult, error)
}

// FunctionTestResult is what one run of a function under TestFunction
// did.
type FunctionTestResult struct {
	// Output is the event object the function returned, as JSON.
	Output []byte
	Logs   []string
	// Error is the function's error message ("" when it succeeded).
	Error string
	// ComputeUtilization is the run's time as a percentage (0 to 100) of
	// the time a function is allowed.
	ComputeUtilization int
}

// MaxFunctionRequestBytes bounds a CreateFunction, UpdateFunction or
// TestFunction body: the service model's largest blob (40,960 bytes of
// code or event) in base64 is 54,616 bytes, plus the configuration.
const MaxFunctionRequestBytes = 64 << 10

// maxFunctionEventBytes is the service model's bound on a TestFunction
// EventObject.
const maxFunctionEventBytes = 40960

const functionBase = "/2020-05-31/function"

// routeFunctions registers the function operations when the handler has
// a service for the kind.
func (h *Handler) routeFunctions(m *http.ServeMux) {
	svc := h.resources[resource.Function]
	if svc == nil {
		return
	}
	f := &functionHandler{h: h, svc: svc, limits: function.DefaultLimits}
	b := functionBase
	h.route(m, "POST "+b, OpCreateFunction, f.create)
	h.route(m, "GET "+b, OpListFunctions, f.list)
	h.route(m, "GET "+b+"/{Name}", OpGetFunction, f.get)
	h.route(m, "PUT "+b+"/{Name}", OpUpdateFunction, f.update)
	h.route(m, "DELETE "+b+"/{Name}", OpDeleteFunction, f.delete)
	h.route(m, "GET "+b+"/{Name}/describe", OpDescribeFunction, f.describe)
	h.route(m, "POST "+b+"/{Name}/publish", OpPublishFunction, f.publish)
	h.route(m, "POST "+b+"/{Name}/test", OpTestFunction, f.test)
	m.HandleFunc(b, methodNotAllowed("GET", "POST"))
	m.HandleFunc(b+"/{Name}", methodNotAllowed("GET", "PUT", "DELETE"))
	m.HandleFunc(b+"/{Name}/describe", methodNotAllowed("GET"))
	m.HandleFunc(b+"/{Name}/publish", methodNotAllowed("POST"))
	m.HandleFunc(b+"/{Name}/test", methodNotAllowed("POST"))
}

// functionOperation is OperationOf for the function paths (seg after
// /2020-05-31/, seg[0] == "function").
func functionOperation(method string, seg []string) Operation {
	switch {
	case len(seg) == 1 && method == "POST":
		return OpCreateFunction
	case len(seg) == 1 && method == "GET":
		return OpListFunctions
	case len(seg) == 2 && method == "GET":
		return OpGetFunction
	case len(seg) == 2 && method == "PUT":
		return OpUpdateFunction
	case len(seg) == 2 && method == "DELETE":
		return OpDeleteFunction
	case len(seg) == 3 && seg[2] == "describe" && method == "GET":
		return OpDescribeFunction
	case len(seg) == 3 && seg[2] == "publish" && method == "POST":
		return OpPublishFunction
	case len(seg) == 3 && seg[2] == "test" && method == "POST":
		return OpTestFunction
	}
	return OpUnknown
}

// FunctionRules are the rules resource.Service applies to functions:
// CloudFront's error codes and messages, the name as Id, and the
// account's quota (function.DefaultLimits.MaxFunctions).
func FunctionRules() resource.Rules {
	return resource.Rules{
		Kind: resource.Function, IDIsName: true, Max: function.DefaultLimits.MaxFunctions,
		NoSuch: function.CodeNoSuchFunctionExists, NoSuchMessage: "The function does not exist.",
		AlreadyExists:        function.CodeFunctionAlreadyExists,
		AlreadyExistsMessage: "A function with the same name already exists in this Amazon Web Services account. To create a function, you must provide a unique name. To update an existing function, use UpdateFunction.",
		InUse:                function.CodeFunctionInUse, InUseMessage: "Cannot delete the function because it's attached to one or more cache behaviors.",
		TooMany: function.CodeTooManyFunctions, TooManyMessage: "You have reached the maximum number of CloudFront functions for this Amazon Web Services account.",
		MissingRef: func(ref resource.Ref) (string, string) {
			return "EntityNotFound", "The " + string(ref.Kind) + " " + ref.ID + " does not exist."
		},
		IfMatchETag: func(r resource.Resource) string {
			f, err := function.Decode(r.Config)
			if err != nil {
				return r.ETag // never written so; no If-Match matches ""
			}
			return f.Development.ETag
		},
	}
}

type functionHandler struct {
	h      *Handler
	svc    *resource.Service
	limits function.Limits
}

func (f *functionHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *function.Error
	if errors.As(err, &fe) {
		err = &resource.Error{Code: fe.Code, Message: fe.Message}
	}
	f.h.fail(w, r, requestID(r), err)
}

// authorize checks that the signing key may act on account-wide
// resources: a key limited to some distributions may not.
func (f *functionHandler) authorize(r *http.Request, action, name string) error {
	keyID := info(r).keyID
	if keyID == "" || len(f.h.keys[keyID].Distributions) == 0 {
		return nil
	}
	if name == "" {
		name = "*"
	}
	return &apiError{http.StatusForbidden, "AccessDenied",
		"User: arn:aws:iam::" + f.h.account + ":user/" + keyID + " is not authorized to perform: cloudfront:" + action +
			" on resource: " + function.ARN(f.h.account, name)}
}

// errIfMatchMissing is CloudFront's answer to a write without If-Match.
var errIfMatchMissing = &resource.Error{Code: function.CodeInvalidIfMatchVersion, Message: "The If-Match version is missing or not valid for the resource."}

var errPrecondition = &resource.Error{Code: function.CodePreconditionFailed, Message: "The precondition given in one or more of the request-header fields evaluated to false."}

// stageParam reads the Stage query parameter (DEVELOPMENT when absent).
func stageParam(r *http.Request) (function.Stage, error) {
	q := r.URL.Query()
	if !q.Has("Stage") {
		return function.Development, nil
	}
	return parseStage(q.Get("Stage"), "Stage")
}

func parseStage(s, what string) (function.Stage, error) {
	switch st := function.Stage(s); st {
	case function.Development, function.Live:
		return st, nil
	}
	return "", invalidArgument("Value '" + s + "' at '" + what + "' failed to satisfy constraint: Member must satisfy enum value set: [DEVELOPMENT, LIVE]")
}

// decodeFunctionBody parses a CreateFunctionRequest, UpdateFunctionRequest
// or TestFunctionRequest.
func decodeFunctionBody(r *http.Request, root string) (*xmlmodel.Element, error) {
	if b := body(r); len(b) > MaxFunctionRequestBytes {
		return nil, &resource.Error{Code: function.CodeFunctionSizeLimitExceeded, Message: "The request is " + strconv.Itoa(len(b)) + " bytes long; the maximum is " + strconv.Itoa(MaxFunctionRequestBytes) + "."}
	}
	return xmlmodel.Decode(body(r), root, root)
}

// stageFrom reads a request's FunctionConfig and FunctionCode into a
// stage, and checks it against CloudFront's rules and, when the handler
// has a runtime, compiles it.
func (f *functionHandler) stageFrom(name string, e *xmlmodel.Element) (function.Code, error) {
	var c function.Code
	c.Comment, _ = e.Value("FunctionConfig", "Comment")
	c.Runtime, _ = e.Value("FunctionConfig", "Runtime")
	for _, a := range e.Items("FunctionConfig", "KeyValueStoreAssociations") {
		arn, _ := a.Value("KeyValueStoreARN")
		c.KeyValueStoreARNs = append(c.KeyValueStoreARNs, arn)
	}
	b64, _ := e.Value("FunctionCode")
	code, err := base64.StdEncoding.DecodeString(b64) // Decode checked it
	if err != nil {
		return c, invalidArgument("The parameter FunctionCode is not valid base64.")
	}
	c.Code = code
	if err := function.Validate(name, &c, f.limits); err != nil {
		return c, err
	}
	if rt := f.h.fnRuntime; rt != nil {
		if err := rt.Compile(c.Runtime, c.Code, c.KeyValueStoreARNs); err != nil {
			var fe *function.Error
			if errors.As(err, &fe) {
				return c, err
			}
			return c, invalidArgument(err.Error())
		}
	}
	return c, nil
}

// kvsRefs are the KeyValueStores a stage reads, as references: a function
// cannot name a store that does not exist, nor may a store it names be
// deleted.
func kvsRefs(stages ...*function.Code) []resource.Ref {
	var refs []resource.Ref
	for _, s := range stages {
		if s == nil {
			continue
		}
		for _, arn := range s.KeyValueStoreARNs {
			ref := resource.Ref{Kind: resource.KeyValueStore, ID: function.KeyValueStoreID(arn)}
			if !slices.Contains(refs, ref) {
				refs = append(refs, ref)
			}
		}
	}
	return refs
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func newFunctionETag() string { return "E" + resource.RandomID(13) }

func (f *functionHandler) create(w http.ResponseWriter, r *http.Request) {
	if err := f.authorize(r, "CreateFunction", ""); err != nil {
		f.fail(w, r, err)
		return
	}
	e, err := decodeFunctionBody(r, "CreateFunctionRequest")
	if err != nil {
		f.fail(w, r, err)
		return
	}
	name, _ := e.Value("Name")
	stage, err := f.stageFrom(name, e)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	t := now()
	stage.ETag, stage.LastModified = newFunctionETag(), t
	fn := function.Function{Name: name, Created: t, Development: stage}
	res, _, err := f.svc.Create(r.Context(), resource.Resource{Name: name, ETag: stage.ETag, Config: fn.Encode(), Refs: kvsRefs(&stage)})
	if err != nil {
		f.fail(w, r, err)
		return
	}
	fn, err = function.Decode(res.Config)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	w.Header().Set("Location", baseURL(r)+functionBase+"/"+function.ARN(f.h.account, name))
	w.Header().Set("ETag", fn.Development.ETag)
	f.writeSummary(w, http.StatusCreated, &fn, function.Development)
}

// load returns the stored function name.
func (f *functionHandler) load(ctx context.Context, name string) (function.Function, error) {
	res, err := f.svc.Get(ctx, name)
	if err != nil {
		return function.Function{}, err
	}
	return function.Decode(res.Config)
}

func (f *functionHandler) noSuch() error {
	return &resource.Error{Code: function.CodeNoSuchFunctionExists, Message: "The function does not exist."}
}

// stage reads the function and the stage (the Stage parameter) a
// DescribeFunction or GetFunction names; it answers the error itself and
// returns a nil code when there is none.
func (f *functionHandler) stage(w http.ResponseWriter, r *http.Request, op string) (function.Function, function.Stage, *function.Code) {
	name := r.PathValue("Name")
	if err := f.authorize(r, op, name); err != nil {
		f.fail(w, r, err)
		return function.Function{}, "", nil
	}
	st, err := stageParam(r)
	if err != nil {
		f.fail(w, r, err)
		return function.Function{}, "", nil
	}
	fn, err := f.load(r.Context(), name)
	if err != nil {
		f.fail(w, r, err)
		return function.Function{}, "", nil
	}
	code := fn.Stage(st)
	if code == nil {
		f.fail(w, r, f.noSuch())
	}
	return fn, st, code
}

func (f *functionHandler) describe(w http.ResponseWriter, r *http.Request) {
	fn, st, code := f.stage(w, r, "DescribeFunction")
	if code == nil {
		return
	}
	w.Header().Set("ETag", code.ETag)
	f.writeSummary(w, http.StatusOK, &fn, st)
}

func (f *functionHandler) get(w http.ResponseWriter, r *http.Request) {
	_, _, code := f.stage(w, r, "GetFunction")
	if code == nil {
		return
	}
	hd := w.Header()
	hd.Set("ETag", code.ETag)
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.Itoa(len(code.Code)))
	w.WriteHeader(http.StatusOK)
	w.Write(code.Code)
}

func (f *functionHandler) update(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("Name")
	if err := f.authorize(r, "UpdateFunction", name); err != nil {
		f.fail(w, r, err)
		return
	}
	e, err := decodeFunctionBody(r, "UpdateFunctionRequest")
	if err != nil {
		f.fail(w, r, err)
		return
	}
	// The name is the stored function's: one of another shape names none.
	if !function.ValidName(name) {
		f.fail(w, r, f.noSuch())
		return
	}
	stage, err := f.stageFrom(name, e)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	match := ifMatch(r)
	if match == "" {
		f.fail(w, r, errIfMatchMissing)
		return
	}
	var fn function.Function
	_, err = f.svc.Modify(r.Context(), name, func(res *resource.Resource) error {
		cur, err := function.Decode(res.Config)
		if err != nil {
			return err
		}
		if cur.Development.ETag != match {
			return errPrecondition
		}
		s := stage
		s.ETag, s.LastModified = newFunctionETag(), now()
		cur.Development = s
		res.Config, res.LastModified = cur.Encode(), s.LastModified
		res.Refs = kvsRefs(&cur.Development, cur.Live)
		fn = cur
		return nil
	})
	if err != nil {
		f.fail(w, r, err)
		return
	}
	// The service model names UpdateFunction's ETag header "ETtag", so
	// SDKs read that one; CloudFront sends it, and ETag for the others.
	w.Header().Set("ETtag", fn.Development.ETag)
	w.Header().Set("ETag", fn.Development.ETag)
	f.writeSummary(w, http.StatusOK, &fn, function.Development)
}

func (f *functionHandler) publish(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("Name")
	if err := f.authorize(r, "PublishFunction", name); err != nil {
		f.fail(w, r, err)
		return
	}
	match := ifMatch(r)
	if match == "" {
		f.fail(w, r, errIfMatchMissing)
		return
	}
	var fn function.Function
	_, err := f.svc.Modify(r.Context(), name, func(res *resource.Resource) error {
		cur, err := function.Decode(res.Config)
		if err != nil {
			return err
		}
		if cur.Development.ETag != match {
			return errPrecondition
		}
		live := cur.Development
		live.Code = slices.Clone(live.Code)
		live.KeyValueStoreARNs = slices.Clone(live.KeyValueStoreARNs)
		live.ETag, live.LastModified = newFunctionETag(), now()
		cur.Live = &live
		// The DEVELOPMENT stage, and its ETag, stay.
		res.Config, res.LastModified = cur.Encode(), live.LastModified
		res.Refs = kvsRefs(&cur.Development, cur.Live)
		fn = cur
		return nil
	})
	if err != nil {
		f.fail(w, r, err)
		return
	}
	f.writeSummary(w, http.StatusOK, &fn, function.Live)
}

func (f *functionHandler) delete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("Name")
	if err := f.authorize(r, "DeleteFunction", name); err != nil {
		f.fail(w, r, err)
		return
	}
	if err := f.svc.Delete(r.Context(), name, ifMatch(r)); err != nil {
		f.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// list answers ListFunctions: the functions ordered by name, each
// DEVELOPMENT stage then its LIVE one (only the stage Stage names, when
// it is given), MaxItems from Marker. A marker is a function name, or a
// name and "/LIVE" for a page that starts at its LIVE stage ("/" is in no
// name).
func (f *functionHandler) list(w http.ResponseWriter, r *http.Request) {
	if err := f.authorize(r, "ListFunctions", ""); err != nil {
		f.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	var only function.Stage
	if q.Has("Stage") {
		st, err := parseStage(q.Get("Stage"), "Stage")
		if err != nil {
			f.fail(w, r, err)
			return
		}
		only = st
	}
	maxItems, err := parseMaxItems(r)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	all, err := f.svc.List(r.Context())
	if err != nil {
		f.fail(w, r, err)
		return
	}
	associated := f.h.associatedFunctions()
	// Items are ordered by (name, stage): compare the marker so, not as
	// a string ("a/LIVE" sorts after "a-b").
	marker, markerLive := strings.CutSuffix(q.Get("Marker"), "/LIVE")
	items := xmlmodel.NewParent("Items")
	next := ""
	for i := range all {
		fn, err := function.Decode(all[i].Config)
		if err != nil {
			f.fail(w, r, err)
			return
		}
		for _, st := range []function.Stage{function.Development, function.Live} {
			if only != "" && st != only || fn.Stage(st) == nil {
				continue
			}
			key := fn.Name
			if st == function.Live {
				key += "/LIVE"
			}
			if fn.Name < marker || fn.Name == marker && markerLive && st == function.Development {
				continue
			}
			if len(items.Children) == maxItems {
				next = key
				break
			}
			items.Children = append(items.Children, f.summary(&fn, st, associated[fn.Name]))
		}
		if next != "" {
			break
		}
	}
	n := xmlmodel.New
	list := xmlmodel.NewParent("FunctionList")
	if next != "" {
		list.Children = append(list.Children, n("NextMarker", next))
	}
	list.Children = append(list.Children, n("MaxItems", strconv.Itoa(maxItems)), n("Quantity", strconv.Itoa(len(items.Children))))
	if len(items.Children) > 0 {
		list.Children = append(list.Children, items)
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	xmlmodel.Encode(&b, list, true)
	writeXML(w, http.StatusOK, b.String())
}

func (f *functionHandler) test(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("Name")
	if err := f.authorize(r, "TestFunction", name); err != nil {
		f.fail(w, r, err)
		return
	}
	e, err := decodeFunctionBody(r, "TestFunctionRequest")
	if err != nil {
		f.fail(w, r, err)
		return
	}
	st := function.Development
	if s, ok := e.Value("Stage"); ok {
		st = function.Stage(s) // Decode checked the enum
	}
	b64, _ := e.Value("EventObject")
	event, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		f.fail(w, r, invalidArgument("The parameter EventObject is not valid base64."))
		return
	}
	if len(event) > maxFunctionEventBytes {
		f.fail(w, r, invalidArgument("The parameter EventObject is "+strconv.Itoa(len(event))+" bytes; the maximum is "+strconv.Itoa(maxFunctionEventBytes)+"."))
		return
	}
	if !json.Valid(event) {
		f.fail(w, r, invalidArgument("The parameter EventObject is not a valid JSON event object."))
		return
	}
	match := ifMatch(r)
	fn, err := f.load(r.Context(), name)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	code := fn.Stage(st)
	if code == nil {
		f.fail(w, r, f.noSuch())
		return
	}
	// TestFunction has no PreconditionFailed among its errors: an If-Match
	// that is not the stage's ETag is not valid for it.
	if match == "" || match != code.ETag {
		f.fail(w, r, errIfMatchMissing)
		return
	}
	rt := f.h.fnRuntime
	if rt == nil {
		f.fail(w, r, &resource.Error{Code: function.CodeUnsupportedOperation, Message: "TestFunction is not supported: this openfront has no function runtime."})
		return
	}
	res, err := rt.Test(r.Context(), code.Runtime, code.Code, code.KeyValueStoreARNs, event)
	if err != nil {
		f.h.log.Warn("testing a function failed", "function", name, "request_id", requestID(r), "err", err)
		f.fail(w, r, &apiError{http.StatusInternalServerError, function.CodeTestFunctionFailed, "The CloudFront function failed."})
		return
	}
	n := xmlmodel.New
	logs := xmlmodel.NewParent("FunctionExecutionLogs")
	for _, l := range res.Logs {
		logs.Children = append(logs.Children, n("member", l))
	}
	result := xmlmodel.NewParent("TestResult",
		f.summary(&fn, st, f.h.associatedFunctions()[name]),
		n("ComputeUtilization", strconv.Itoa(res.ComputeUtilization)),
		logs,
		n("FunctionErrorMessage", res.Error),
		n("FunctionOutput", string(res.Output)),
	)
	var b strings.Builder
	b.WriteString(xmlHeader)
	xmlmodel.Encode(&b, result, true)
	writeXML(w, http.StatusOK, b.String())
}

// summary is a stage's FunctionSummary.
func (f *functionHandler) summary(fn *function.Function, st function.Stage, associated bool) *xmlmodel.Element {
	n, p := xmlmodel.New, xmlmodel.NewParent
	c := fn.Stage(st)
	cfg := p("FunctionConfig", n("Comment", c.Comment), n("Runtime", c.Runtime))
	if len(c.KeyValueStoreARNs) > 0 {
		items := p("Items")
		for _, arn := range c.KeyValueStoreARNs {
			items.Children = append(items.Children, p("KeyValueStoreAssociation", n("KeyValueStoreARN", arn)))
		}
		cfg.Children = append(cfg.Children, p("KeyValueStoreAssociations", n("Quantity", strconv.Itoa(len(c.KeyValueStoreARNs))), items))
	}
	return p("FunctionSummary",
		n("Name", fn.Name),
		n("Status", function.StatusOf(st, associated)),
		cfg,
		p("FunctionMetadata",
			n("FunctionARN", function.ARN(f.h.account, fn.Name)),
			n("Stage", string(st)),
			n("CreatedTime", fn.Created.UTC().Format(timeFormat)),
			n("LastModifiedTime", c.LastModified.UTC().Format(timeFormat)),
		),
	)
}

func (f *functionHandler) writeSummary(w http.ResponseWriter, status int, fn *function.Function, st function.Stage) {
	associated := st == function.Live && f.h.associatedFunctions()[fn.Name]
	var b strings.Builder
	b.WriteString(xmlHeader)
	xmlmodel.Encode(&b, f.summary(fn, st, associated), true)
	writeXML(w, status, b.String())
}

// associatedFunctions are the names of the functions some distribution's
// cache behavior associates, as this process knows the distributions.
func (h *Handler) associatedFunctions() map[string]bool {
	out := map[string]bool{}
	if h.dists == nil {
		return out
	}
	for _, d := range h.dists.Registry().All() {
		for _, b := range append([]distribution.CacheBehavior{d.Config.DefaultBehavior}, d.Config.Behaviors...) {
			for _, a := range b.FunctionAssociations {
				if name, ok := function.NameFromARN(a.FunctionARN); ok {
					out[name] = true
				}
			}
		}
	}
	return out
}
