package cloudfront

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/invalidation"
)

// Namespace is the XML namespace of every CloudFront 2020-05-31 body.
const Namespace = "http://cloudfront.amazonaws.com/doc/2020-05-31/"

const xmlHeader = `<?xml version="1.0"?>` + "\n"

// timeFormat is how CloudFront writes timestamps: ISO 8601, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

const msgMalformedXML = "The XML you provided was not well-formed or did not validate against our published schema."

// unknownElement catches elements the model does not define.
type unknownElement struct {
	XMLName xml.Name
}

type wireItems struct {
	Path  []string         `xml:"Path"`
	Other []unknownElement `xml:",any"`
}

type wirePaths struct {
	Quantity []string         `xml:"Quantity"`
	Items    *wireItems       `xml:"Items"`
	Other    []unknownElement `xml:",any"`
}

type wireBatch struct {
	XMLName         xml.Name
	Paths           []wirePaths      `xml:"Paths"`
	CallerReference []string         `xml:"CallerReference"`
	Other           []unknownElement `xml:",any"`
}

// decodeBatch parses an <InvalidationBatch> body into the domain's Batch,
// enforcing the model's shape and Quantity/Items consistency.
func decodeBatch(body []byte) (invalidation.Batch, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidation.Batch{}, &apiError{http.StatusBadRequest, "MissingBody",
			"This operation requires a body. Ensure that the body is present and the Content-Type header is set."}
	}
	wb, ok := scanBatch(body)
	if !ok {
		var err error
		if wb, err = parseBatch(body); err != nil {
			return invalidation.Batch{}, err
		}
	}
	return batchFromWire(wb)
}

// parseBatch decodes an <InvalidationBatch> body with encoding/xml: the
// reference decoder, for every body scanBatch does not take (scanBatch
// reads a fixed nesting of four elements, no attribute but the
// namespace, so it needs no limits of its own).
func parseBatch(body []byte) (wireBatch, error) {
	// encoding/xml's cost grows with depth and attributes, not only
	// size: refuse a body past the limits before it reads it.
	if err := xmlmodel.DefaultLimits.Check(body); err != nil {
		return wireBatch{}, invalidArgument(msgMalformedXML)
	}
	var wb wireBatch
	dec := xml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wb); err != nil {
		return wireBatch{}, invalidArgument(msgMalformedXML)
	}
	if err := expectEnd(dec); err != nil {
		return wireBatch{}, err
	}
	return wb, nil
}

// batchFromWire checks a decoded body against the model and turns it
// into the domain's Batch.
func batchFromWire(wb wireBatch) (invalidation.Batch, error) {
	if wb.XMLName.Local != "InvalidationBatch" || (wb.XMLName.Space != "" && wb.XMLName.Space != Namespace) {
		return invalidation.Batch{}, invalidArgument(msgMalformedXML)
	}
	if len(wb.Other) > 0 {
		return invalidation.Batch{}, invalidArgument("Unexpected element " + wb.Other[0].XMLName.Local + " in InvalidationBatch.")
	}
	if len(wb.Paths) != 1 || len(wb.CallerReference) > 1 {
		return invalidation.Batch{}, invalidArgument(msgMalformedXML)
	}
	p := wb.Paths[0]
	if len(p.Other) > 0 {
		return invalidation.Batch{}, invalidArgument("Unexpected element " + p.Other[0].XMLName.Local + " in Paths.")
	}
	if len(p.Quantity) != 1 {
		return invalidation.Batch{}, invalidArgument("The parameter Quantity is required in Paths.")
	}
	qty, err := strconv.Atoi(strings.TrimSpace(p.Quantity[0]))
	if err != nil || qty < 0 {
		return invalidation.Batch{}, invalidArgument("The parameter Quantity must be a non-negative integer.")
	}
	var items []string
	if p.Items != nil {
		if len(p.Items.Other) > 0 {
			return invalidation.Batch{}, invalidArgument("Unexpected element " + p.Items.Other[0].XMLName.Local + " in Items.")
		}
		items = p.Items.Path
	}
	if qty != len(items) {
		return invalidation.Batch{}, &apiError{http.StatusBadRequest, invalidation.CodeInconsistentQuantities,
			"The value of Quantity and the size of Items don't match."}
	}
	var ref string
	if len(wb.CallerReference) == 1 {
		ref = wb.CallerReference[0]
	}
	return invalidation.Batch{CallerReference: ref, Paths: items}, nil
}

// expectEnd checks nothing but whitespace, comments and processing
// instructions follow the root element.
func expectEnd(dec *xml.Decoder) error {
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalidArgument(msgMalformedXML)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return invalidArgument(msgMalformedXML)
			}
		case xml.Comment, xml.ProcInst:
		default:
			return invalidArgument(msgMalformedXML)
		}
	}
}

// The encoders below write XML by hand: element order is the model's,
// and it keeps the hot path free of reflection.

// appendInvalidation appends the <Invalidation> document of inv to b.
func appendInvalidation(b []byte, inv invalidation.Invalidation) []byte {
	// Room for it unescaped (the markup is 340 bytes at most), so that a
	// pooled buffer of the usual size is used as it is.
	n := 340 + len(inv.ID) + len(inv.Batch.CallerReference)
	for _, p := range inv.Batch.Paths {
		n += len("<Path></Path>") + len(p)
	}
	b = slices.Grow(b, n)
	b = append(b, xmlHeader...)
	b = append(b, `<Invalidation xmlns="`+Namespace+`"><Id>`...)
	b = appendEscaped(b, inv.ID)
	b = append(b, "</Id><Status>"...)
	b = append(b, inv.Status...)
	b = append(b, "</Status><CreateTime>"...)
	b = inv.CreateTime.UTC().AppendFormat(b, timeFormat)
	b = append(b, "</CreateTime><InvalidationBatch><Paths><Quantity>"...)
	b = strconv.AppendInt(b, int64(len(inv.Batch.Paths)), 10)
	b = append(b, "</Quantity>"...)
	if len(inv.Batch.Paths) > 0 {
		b = append(b, "<Items>"...)
		for _, p := range inv.Batch.Paths {
			b = append(b, "<Path>"...)
			b = appendEscaped(b, p)
			b = append(b, "</Path>"...)
		}
		b = append(b, "</Items>"...)
	}
	b = append(b, "</Paths><CallerReference>"...)
	b = appendEscaped(b, inv.Batch.CallerReference)
	return append(b, "</CallerReference></InvalidationBatch></Invalidation>"...)
}

func writeInvalidationList(b *strings.Builder, marker string, maxItems int, page invalidation.Page) {
	b.WriteString(xmlHeader)
	b.WriteString(`<InvalidationList xmlns="` + Namespace + `"><Marker>`)
	escapeTo(b, marker)
	b.WriteString("</Marker>")
	if page.NextMarker != "" {
		b.WriteString("<NextMarker>")
		escapeTo(b, page.NextMarker)
		b.WriteString("</NextMarker>")
	}
	b.WriteString("<MaxItems>")
	b.WriteString(strconv.Itoa(maxItems))
	b.WriteString("</MaxItems><IsTruncated>")
	b.WriteString(strconv.FormatBool(page.NextMarker != ""))
	b.WriteString("</IsTruncated><Quantity>")
	b.WriteString(strconv.Itoa(len(page.Items)))
	b.WriteString("</Quantity>")
	if len(page.Items) > 0 {
		b.WriteString("<Items>")
		for _, inv := range page.Items {
			b.WriteString("<InvalidationSummary><Id>")
			escapeTo(b, inv.ID)
			b.WriteString("</Id><CreateTime>")
			b.WriteString(inv.CreateTime.UTC().Format(timeFormat))
			b.WriteString("</CreateTime><Status>")
			b.WriteString(string(inv.Status))
			b.WriteString("</Status></InvalidationSummary>")
		}
		b.WriteString("</Items>")
	}
	b.WriteString("</InvalidationList>")
}

// escapeTo writes s with XML's special characters escaped.
func escapeTo(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, "<>&'\"\r\n\t") {
		b.WriteString(s)
		return
	}
	var buf bytes.Buffer
	xml.EscapeText(&buf, []byte(s))
	b.Write(buf.Bytes())
}

// appendEscaped appends s with XML's special characters escaped, as
// escapeTo writes it.
func appendEscaped(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "<>&'\"\r\n\t") {
		return append(b, s...)
	}
	buf := bytes.NewBuffer(b)
	xml.EscapeText(buf, []byte(s))
	return buf.Bytes()
}

func writeXML(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	// h.Set of both, with one allocation for the two values.
	v := []string{"text/xml", strconv.Itoa(len(body))}
	h["Content-Type"], h["Content-Length"] = v[0:1:1], v[1:2:2]
	w.WriteHeader(status)
	io.WriteString(w, body)
}
