package xmlmodel

import "bytes"

// Limits bound the shape of an XML body before a decoder (encoding/xml)
// reads it: encoding/xml keeps a stack entry per open element and builds
// every attribute of a start tag before the caller sees the tag, so an
// unbounded document costs memory and time far beyond its size.
type Limits struct {
	// Depth is the deepest nesting of elements; the root is at depth 1.
	Depth int
	// Elements is the most elements (start tags) a document may hold.
	Elements int
	// Attributes is the most attributes, namespace declarations
	// included, one start tag may have.
	Attributes int
}

// DefaultLimits are the limits of every body the API decodes. CloudFront's
// schema nests at most about ten elements deep and puts no attribute but
// the namespace on any, so a document past them cannot validate against
// it; Elements leaves room for the largest lists CloudFront allows (3,000
// invalidation paths).
var DefaultLimits = Limits{Depth: 64, Elements: 100_000, Attributes: 16}

var (
	commentStart = []byte("!--")
	commentEnd   = []byte("-->")
	cdataStart   = []byte("![CDATA[")
	cdataEnd     = []byte("]]>")
	piEnd        = []byte("?>")
)

// Check scans body in one pass, with no allocation, and returns an
// InvalidArgument (MsgMalformedXML, the answer to any document that is not
// well-formed or does not validate) when it is past a limit or holds a
// document type declaration or any other <!...> directive, which no
// CloudFront body has. It follows XML's markup as encoding/xml does
// (comments, CDATA sections, processing instructions, quoted attribute
// values) on a well-formed document, so it counts exactly what encoding/xml
// would see there; on a malformed one it may give up earlier than
// encoding/xml, with the same error.
func (l Limits) Check(body []byte) error {
	depth, elements := 0, 0
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '<')
		if j < 0 {
			return nil
		}
		i += j + 1
		rest := body[i:]
		switch {
		case bytes.HasPrefix(rest, commentStart):
			k := bytes.Index(rest[len(commentStart):], commentEnd)
			if k < 0 {
				return errMalformed
			}
			i += len(commentStart) + k + len(commentEnd)
		case bytes.HasPrefix(rest, cdataStart):
			k := bytes.Index(rest[len(cdataStart):], cdataEnd)
			if k < 0 {
				return errMalformed
			}
			i += len(cdataStart) + k + len(cdataEnd)
		case len(rest) > 0 && rest[0] == '?':
			k := bytes.Index(rest[1:], piEnd)
			if k < 0 {
				return errMalformed
			}
			i += 1 + k + len(piEnd)
		case len(rest) > 0 && rest[0] == '!':
			return errMalformed
		case len(rest) > 0 && rest[0] == '/':
			k := bytes.IndexByte(rest, '>')
			if k < 0 {
				return errMalformed
			}
			i += k + 1
			depth--
		default:
			// A start tag ends at the first '>' outside quotes; each '='
			// outside quotes is an attribute (names cannot hold one,
			// and encoding/xml requires it of every attribute).
			attrs, k := 0, 0
			var quote byte
			for ; k < len(rest); k++ {
				c := rest[k]
				if quote != 0 {
					if c == quote {
						quote = 0
					}
					continue
				}
				if c == '"' || c == '\'' {
					quote = c
				} else if c == '=' {
					if attrs++; attrs > l.Attributes {
						return errMalformed
					}
				} else if c == '>' {
					break
				}
			}
			if k == len(rest) {
				return errMalformed
			}
			elements++
			if elements > l.Elements || depth+1 > l.Depth {
				return errMalformed
			}
			if k == 0 || rest[k-1] != '/' {
				depth++
			}
			i += k + 1
		}
	}
}
