package runtime

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// MaxBodyBytes is the largest body a function may put in the response it
// returns (CloudFront's limit on a function-generated body: 40 KB).
const MaxBodyBytes = 40 * 1024

// The typed event is the edge's way in: it builds the event object from
// Go values and reads the returned one back, without encoding JSON.

// Field is a header, query string parameter or cookie as the event object
// has it: {value} or, with more than one value, {value, multiValue}.
type Field struct {
	Value string
	// Attributes are a response cookie's attributes ("Path=/; Secure").
	Attributes string
	// MultiValue holds every value, the first included, when there is more
	// than one; nil otherwise.
	MultiValue []Field
}

// Fields are headers (lower-case names), query string parameters or
// cookies, by name.
type Fields map[string]Field

// Request is event.request.
type Request struct {
	Method      string
	URI         string
	Querystring Fields
	Headers     Fields
	Cookies     Fields
}

// Response is event.response, or the response a function returns.
type Response struct {
	StatusCode        int
	StatusDescription string
	Headers           Fields
	Cookies           Fields
	// Body is the body a function set; HasBody says it set one.
	Body    []byte
	HasBody bool
}

// EventContext is event.context.
type EventContext struct {
	DistributionDomainName string
	DistributionID         string
	EventType              string // function.ViewerRequest or ViewerResponse
	RequestID              string
}

// Event is what a function receives.
type Event struct {
	Context  EventContext
	ViewerIP string
	Request  Request
	// Response is set for viewer-response events.
	Response *Response
}

// Outcome is what a run of Handle gives.
type Outcome struct {
	// Request is the request to go on with, when the function returned
	// one (viewer-request only).
	Request *Request
	// Response is the response the function returned: the viewer gets it.
	Response *Response
	// Logs and ComputeUtilization are as in Result.
	Logs               []string
	ComputeUtilization int
}

// Handle runs the handler on ev and returns what it returned. An error
// says the function threw, exhausted its budget or returned something
// that is neither a request nor a response (for viewer-response events,
// a response); the edge then answers with CloudFront's 503.
func (p *Program) Handle(ctx context.Context, ev *Event, kv KeyValues) (Outcome, error) {
	var res Result
	var out Outcome
	err := p.run(ctx, kv, &res, func(v *vm) (goja.Value, error) {
		return v.eventObject(ev), nil
	}, func(v *vm, o *goja.Object) error {
		sc := o.Get("statusCode")
		if ev.Response != nil || (sc != nil && !goja.IsUndefined(sc)) {
			r, err := v.readResponse(o)
			out.Response = r
			return err
		}
		r, err := v.readRequest(o)
		out.Request = r
		return err
	})
	out.Logs, out.ComputeUtilization = res.Logs, res.ComputeUtilization
	return out, err
}

func (v *vm) eventObject(ev *Event) *goja.Object {
	rt := v.rt
	e := rt.NewObject()
	must(e.Set("version", "1.0"))
	c := rt.NewObject()
	must(c.Set("distributionDomainName", ev.Context.DistributionDomainName))
	must(c.Set("distributionId", ev.Context.DistributionID))
	must(c.Set("eventType", ev.Context.EventType))
	must(c.Set("requestId", ev.Context.RequestID))
	must(e.Set("context", c))
	viewer := rt.NewObject()
	must(viewer.Set("ip", ev.ViewerIP))
	must(e.Set("viewer", viewer))
	r := rt.NewObject()
	must(r.Set("method", ev.Request.Method))
	must(r.Set("uri", ev.Request.URI))
	must(r.Set("querystring", v.fieldsObject(ev.Request.Querystring)))
	must(r.Set("headers", v.fieldsObject(ev.Request.Headers)))
	must(r.Set("cookies", v.fieldsObject(ev.Request.Cookies)))
	must(e.Set("request", r))
	if resp := ev.Response; resp != nil {
		o := rt.NewObject()
		must(o.Set("statusCode", resp.StatusCode))
		if resp.StatusDescription != "" {
			must(o.Set("statusDescription", resp.StatusDescription))
		}
		must(o.Set("headers", v.fieldsObject(resp.Headers)))
		must(o.Set("cookies", v.fieldsObject(resp.Cookies)))
		must(e.Set("response", o))
	}
	return e
}

func (v *vm) fieldsObject(fs Fields) *goja.Object {
	o := v.rt.NewObject()
	for name, f := range fs {
		must(o.Set(name, v.fieldObject(f, true)))
	}
	return o
}

func (v *vm) fieldObject(f Field, top bool) *goja.Object {
	o := v.rt.NewObject()
	must(o.Set("value", f.Value))
	if f.Attributes != "" {
		must(o.Set("attributes", f.Attributes))
	}
	if top && len(f.MultiValue) > 0 {
		vals := make([]any, len(f.MultiValue))
		for i, m := range f.MultiValue {
			vals[i] = v.fieldObject(m, false)
		}
		must(o.Set("multiValue", v.rt.NewArray(vals...)))
	}
	return o
}

func (v *vm) readRequest(o *goja.Object) (*Request, error) {
	r := &Request{}
	var err error
	if r.Method, err = str(o, "method", true); err != nil {
		return nil, err
	}
	if r.URI, err = str(o, "uri", true); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(r.URI, "/") {
		return nil, invalid("the request's uri must start with /")
	}
	for _, f := range []struct {
		name string
		dst  *Fields
	}{{"querystring", &r.Querystring}, {"headers", &r.Headers}, {"cookies", &r.Cookies}} {
		if *f.dst, err = v.readFields(o, f.name, f.name == "headers"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (v *vm) readResponse(o *goja.Object) (*Response, error) {
	r := &Response{}
	sc := o.Get("statusCode")
	if sc == nil || goja.IsUndefined(sc) {
		return nil, invalid("the response has no statusCode")
	}
	n := sc.ToInteger()
	if n < 100 || n > 599 || sc.ToFloat() != float64(n) {
		return nil, invalid(fmt.Sprintf("the response's statusCode %s is not a valid HTTP status", sc.String()))
	}
	r.StatusCode = int(n)
	var err error
	if r.StatusDescription, err = str(o, "statusDescription", false); err != nil {
		return nil, err
	}
	if r.Headers, err = v.readFields(o, "headers", true); err != nil {
		return nil, err
	}
	if r.Cookies, err = v.readFields(o, "cookies", false); err != nil {
		return nil, err
	}
	if b := o.Get("body"); b != nil && !goja.IsUndefined(b) && !goja.IsNull(b) {
		r.HasBody = true
		if bo, ok := b.(*goja.Object); ok {
			data, err := str(bo, "data", true)
			if err != nil {
				return nil, err
			}
			enc, _ := str(bo, "encoding", false)
			switch enc {
			case "", "text":
				r.Body = []byte(data)
			case "base64":
				if r.Body, err = base64.StdEncoding.DecodeString(data); err != nil {
					return nil, invalid("the response body is not valid base64")
				}
			default:
				return nil, invalid("the response body's encoding must be text or base64")
			}
		} else {
			r.Body = []byte(b.String())
		}
		if len(r.Body) > MaxBodyBytes {
			return nil, invalid(fmt.Sprintf("the response body exceeds %d bytes", MaxBodyBytes))
		}
	}
	return r, nil
}

// readFields reads o[name]: an object of {value[, multiValue]} objects.
// Header names are lower-cased, as CloudFront has them.
func (v *vm) readFields(o *goja.Object, name string, lower bool) (Fields, error) {
	x := o.Get(name)
	if x == nil || goja.IsUndefined(x) || goja.IsNull(x) {
		return nil, nil
	}
	obj, ok := x.(*goja.Object)
	if !ok {
		return nil, invalid(name + " must be an object")
	}
	keys := obj.Keys()
	fs := make(Fields, len(keys))
	for _, k := range keys {
		fo, ok := obj.Get(k).(*goja.Object)
		if !ok {
			return nil, invalid(fmt.Sprintf("%s.%s must be an object with a value", name, k))
		}
		f, err := readField(fo, name, k)
		if err != nil {
			return nil, err
		}
		if mv, ok := fo.Get("multiValue").(*goja.Object); ok && mv.ClassName() == "Array" {
			n := mv.Get("length").ToInteger()
			for i := range n {
				mo, ok := mv.Get(strconv.FormatInt(i, 10)).(*goja.Object)
				if !ok {
					return nil, invalid(fmt.Sprintf("%s.%s.multiValue[%d] must be an object with a value", name, k, i))
				}
				m, err := readField(mo, name, k)
				if err != nil {
					return nil, err
				}
				f.MultiValue = append(f.MultiValue, m)
			}
			if len(f.MultiValue) > 0 {
				f.Value = f.MultiValue[0].Value
			}
		}
		if lower {
			k = strings.ToLower(k)
		}
		fs[k] = f
	}
	return fs, nil
}

// readField reads a field, name.k.
func readField(o *goja.Object, name, k string) (Field, error) {
	val := o.Get("value")
	if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
		return Field{}, invalid(name + "." + k + " has no value")
	}
	f := Field{Value: val.String()}
	if a := o.Get("attributes"); a != nil && !goja.IsUndefined(a) {
		f.Attributes = a.String()
	}
	return f, nil
}

func str(o *goja.Object, name string, required bool) (string, error) {
	x := o.Get(name)
	if x == nil || goja.IsUndefined(x) || goja.IsNull(x) {
		if required {
			return "", invalid("the returned object has no " + name)
		}
		return "", nil
	}
	return x.String(), nil
}

func invalid(why string) error {
	return errors.New("The CloudFront function returned an invalid value: " + why)
}
