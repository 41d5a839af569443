package xmlmodel

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CloudFront error codes Decode reports.
const (
	CodeInvalidArgument        = "InvalidArgument"
	CodeInconsistentQuantities = "InconsistentQuantities"
	CodeMissingBody            = "MissingBody"
)

// MsgMalformedXML is the message of an InvalidArgument for a body that is
// not well-formed XML or has the wrong root element.
const MsgMalformedXML = "The XML you provided was not well-formed or did not validate against our published schema."

const msgMissingBody = "This operation requires a body. Ensure that the body is present and the Content-Type header is set."

// Error is a validation failure with CloudFront's code: "InvalidArgument",
// "InconsistentQuantities" or "MissingBody". All are HTTP 400.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(msg string) *Error { return &Error{CodeInvalidArgument, msg} }

var errMalformed = &Error{CodeInvalidArgument, MsgMalformedXML}

// frame is an element being parsed.
type frame struct {
	el    *Element
	sh    *shape
	path  string // e.g. DistributionConfig.Origins.Items[0].Id
	text  []byte // scalars: character data so far
	items int    // lists: children so far
}

// Decode parses body, whose root element must be rootName, as a document
// of shape rootShape, and validates it against the model:
//
//   - body is well-formed XML with a single root element rootName in no
//     namespace or in Namespace (InvalidArgument, MsgMalformedXML);
//   - every element is a member of its parent's shape, at most once for a
//     structure member, or the list's member element (InvalidArgument
//     "Unexpected element X in Parent.Path.");
//   - integers, longs and booleans ("true"/"false") parse, timestamps are
//     RFC 3339, enum strings are among the model's values (InvalidArgument
//     naming the field and the value);
//   - required members are present (InvalidArgument "The parameter
//     DistributionConfig.DefaultCacheBehavior.TargetOriginId is required.");
//     a list's Items may be left out when its Quantity is 0;
//   - every Quantity equals the number of children of its sibling Items
//     (InconsistentQuantities naming the path).
//
// A body past DefaultLimits is refused before it is parsed, as a
// malformed one (InvalidArgument, MsgMalformedXML). An empty or
// all-whitespace body is MissingBody. The returned tree keeps
// document order; strings are kept exactly as sent, other scalars in
// canonical form. Errors are *Error. rootShape must be a shape of the
// model: an unknown one panics.
func Decode(body []byte, rootName, rootShape string) (*Element, error) {
	rs := shapeOf(rootShape)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &Error{CodeMissingBody, msgMissingBody}
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if err := DefaultLimits.Check(body); err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	var (
		stack []*frame
		root  *Element
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errMalformed
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != "" && t.Name.Space != Namespace {
				return nil, errMalformed
			}
			if len(stack) == 0 {
				if root != nil || t.Name.Local != rootName {
					return nil, errMalformed
				}
				root = &Element{Name: rootName}
				stack = append(stack, &frame{el: root, sh: rs, path: rootName})
				continue
			}
			f, err := stack[len(stack)-1].open(t.Name.Local)
			if err != nil {
				return nil, err
			}
			stack = append(stack, f)
		case xml.EndElement:
			// The decoder has already matched start and end tags.
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if err := f.close(); err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(stack) == 0 || !stack[len(stack)-1].sh.scalar() {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, errMalformed
				}
				continue
			}
			f := stack[len(stack)-1]
			f.text = append(f.text, t...)
		case xml.Comment, xml.ProcInst:
		default: // xml.Directive: no DTDs
			return nil, errMalformed
		}
	}
	if root == nil || len(stack) != 0 {
		return nil, errMalformed
	}
	return root, nil
}

// open validates a child element named name of f and returns its frame.
func (f *frame) open(name string) (*frame, error) {
	var (
		sh   *shape
		path string
	)
	switch f.sh.kind {
	case kindStructure:
		m := f.sh.byXML[name]
		if m == nil {
			return nil, unexpected(name, f.path)
		}
		if f.el.Child(name) != nil {
			return nil, invalid("Element " + name + " appears more than once in " + f.path + ".")
		}
		sh, path = m.shape, f.path+"."+name
	case kindList:
		if name != f.sh.elemName {
			return nil, unexpected(name, f.path)
		}
		sh, path = f.sh.elem, f.path+"["+strconv.Itoa(f.items)+"]"
		f.items++
	default:
		return nil, unexpected(name, f.path)
	}
	child := &Element{Name: name}
	f.el.Children = append(f.el.Children, child)
	return &frame{el: child, sh: sh, path: path}, nil
}

func unexpected(name, path string) *Error {
	return invalid("Unexpected element " + name + " in " + path + ".")
}

// close validates a complete element.
func (f *frame) close() error {
	switch f.sh.kind {
	case kindStructure:
		return f.closeStructure()
	case kindList:
		return nil
	}
	raw := string(f.text)
	s := strings.TrimSpace(raw)
	switch f.sh.kind {
	case kindInteger, kindLong:
		bits := 32
		if f.sh.kind == kindLong {
			bits = 64
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return invalid("The value '" + clip(raw) + "' of " + f.path + " is not a valid " + f.sh.kind + ".")
		}
		f.el.Text = strconv.FormatInt(n, 10)
	case kindBoolean:
		if s != "true" && s != "false" {
			return invalid("The value '" + clip(raw) + "' of " + f.path + " is not a valid boolean; use true or false.")
		}
		f.el.Text = s
	case kindDouble:
		// Kept as sent (trimmed), so the value comes back as the client
		// wrote it; NaN and infinities are no sampling rate.
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return invalid("The value '" + clip(raw) + "' of " + f.path + " is not a valid double.")
		}
		f.el.Text = s
	case kindBlob:
		// Kept as base64 text (whitespace removed, as decoders of base64
		// skip it); the operation decodes it.
		s = strings.Join(strings.Fields(s), "")
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return invalid("The value of " + f.path + " is not valid base64.")
		}
		f.el.Text = s
	case kindTimestamp:
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return invalid("The value '" + clip(raw) + "' of " + f.path + " is not a valid timestamp.")
		}
		f.el.Text = s
	default: // string
		if f.sh.enumSet != nil {
			if !f.sh.enumSet[s] {
				return invalid("Value '" + clip(raw) + "' at '" + f.path + "' failed to satisfy constraint: Member must satisfy enum value set: [" + strings.Join(f.sh.enum, ", ") + "]")
			}
			f.el.Text = s
			return nil
		}
		f.el.Text = raw
	}
	return nil
}

func (f *frame) closeStructure() error {
	sh, el := f.sh, f.el
	zeroQuantity := false
	if sh.quantity != nil {
		if q := el.Child(sh.quantity.xml); q != nil {
			n, _ := strconv.ParseInt(q.Text, 10, 64) // validated when it closed
			count := 0
			if it := el.Child(sh.items.xml); it != nil {
				count = len(it.Children)
			}
			if n != int64(count) {
				return &Error{CodeInconsistentQuantities, "The value of Quantity and the size of Items don't match in " + f.path + "."}
			}
			zeroQuantity = n == 0
		}
	}
	for _, m := range sh.members {
		if !m.required || el.Child(m.xml) != nil {
			continue
		}
		if m == sh.items && zeroQuantity {
			continue
		}
		return invalid("The parameter " + f.path + "." + m.xml + " is required.")
	}
	return nil
}

// clip shortens a value quoted in an error message.
func clip(v string) string {
	const max = 64
	if len(v) <= max {
		return v
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "..."
}
