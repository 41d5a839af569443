package xmlmodel

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// shape is what encoding/xml sees of a document: its deepest nesting,
// elements, most attributes on one element, and whether it holds a
// directive; ok when it read the whole document without error.
type xmlShape struct {
	depth, elements, attrs int
	directive, ok          bool
}

func shapeByEncodingXML(body []byte) xmlShape {
	var s xmlShape
	dec := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			s.ok = true
			return s
		}
		if err != nil {
			return s
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			s.elements++
			s.depth = max(s.depth, depth)
			s.attrs = max(s.attrs, len(t.Attr))
		case xml.EndElement:
			depth--
		case xml.Directive:
			s.directive = true
		}
	}
}

// checkAgainstEncodingXML fails when Check and encoding/xml disagree: Check
// passing a document encoding/xml sees past the limits (as far as it
// reads it), or refusing a well-formed one within them.
func checkAgainstEncodingXML(t *testing.T, l Limits, body []byte) {
	t.Helper()
	err := l.Check(body)
	s := shapeByEncodingXML(body)
	within := s.depth <= l.Depth && s.elements <= l.Elements && s.attrs <= l.Attributes
	if err == nil && (!within || s.directive) {
		t.Fatalf("Check(%q) passed; encoding/xml sees %+v, limits %+v", body, s, l)
	}
	if err != nil && s.ok && within && !s.directive {
		t.Fatalf("Check(%q) = %v; encoding/xml reads it within the limits: %+v", body, err, s)
	}
	if err != nil && !errors.Is(err, errMalformed) {
		t.Fatalf("Check(%q) = %v, want the malformed-XML error", body, err)
	}
}

var limitSeeds = []string{
	`<a/>`,
	`<a><b><c/></b></a>`,
	`<a x="1" y='2'><b z=">"/></a>`,
	`<?xml version="1.0" encoding="UTF-8"?><a><!-- <b><c> --><![CDATA[<d><e>]]></a>`,
	`<a><?pi <b><c> ?></a>`,
	`<!DOCTYPE a><a/>`,
	`<a><b></a>`,
	`<a x="1>`,
	`<a><!-- x`,
	`<a>` + strings.Repeat("<b>", 10) + strings.Repeat("</b>", 10) + `</a>`,
	`<a ` + strings.Repeat(`x="=" `, 5) + `/>`,
	"<a>\xef\xbb\xbf</a>",
	`<a xmlns="urn:x" xmlns:p="urn:p"><p:b p:c="1"/></a>`,
}

func TestCheckLimits(t *testing.T) {
	l := Limits{Depth: 3, Elements: 6, Attributes: 2}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`<a><b><c/></b></a>`, true},
		{`<a><b><c><d/></c></b></a>`, false},               // depth 4
		{`<a><b/><b/><b/><b/><b/></a>`, true},              // 6 elements
		{`<a><b/><b/><b/><b/><b/><b/></a>`, false},         // 7
		{`<a x="1" y="2"/>`, true},                         // 2 attributes
		{`<a x="1" y="2" z="3"/>`, false},                  // 3
		{`<a x="a=b=c" y='>=<'/>`, true},                   // '=' and '>' inside values
		{`<a><!-- <b><c><d><e> --></a>`, true},             // markup in a comment
		{`<a><![CDATA[<b><c><d><e>]]></a>`, true},          // in CDATA
		{`<a><?p <b><c><d><e> ?></a>`, true},               // in a processing instruction
		{`<!DOCTYPE a [<!ENTITY x "y">]><a/>`, false},      // no DTDs
		{`<a><b></b><b></b><b></b></a>`, true},             // siblings do not add depth
		{`<a>` + strings.Repeat("<b>", 2) + `</a>`, true},  // unclosed: depth 3, encoding/xml's error
		{`<a>` + strings.Repeat("<b>", 3) + `</a>`, false}, // depth 4
	} {
		if err := l.Check([]byte(tc.body)); (err == nil) != tc.ok {
			t.Errorf("Check(%s) = %v, want ok %v", tc.body, err, tc.ok)
		}
		checkAgainstEncodingXML(t, l, []byte(tc.body))
	}
	for _, s := range limitSeeds {
		checkAgainstEncodingXML(t, l, []byte(s))
		checkAgainstEncodingXML(t, DefaultLimits, []byte(s))
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A start tag of a million attributes (4 MB): encoding/xml would build
// them all before Decode saw the tag. Refused having allocated next to
// nothing; so is a document nested deeper than the limit.
func TestDecodeRefusesHostileShapes(t *testing.T) {
	for name, body := range map[string][]byte{
		"attributes": []byte(`<DistributionConfig ` + strings.Repeat(`a="" `, 1_000_000) + `></DistributionConfig>`),
		"depth":      []byte(strings.Repeat("<DistributionConfig>", 1_000_000) + strings.Repeat("</DistributionConfig>", 1_000_000)),
	} {
		var err error
		n := allocated(func() { _, err = Decode(body, "DistributionConfig", "DistributionConfig") })
		if !errors.Is(err, errMalformed) {
			t.Fatalf("%s: Decode = %v, want %v", name, err, errMalformed)
		}
		if n > 64<<10 {
			t.Errorf("%s: Decode allocated %d bytes", name, n)
		}
	}
}

// FuzzCheckLimits: Check agrees with encoding/xml on what a document holds
// (small limits, so that the fuzzer reaches them).
func FuzzCheckLimits(f *testing.F) {
	for _, s := range limitSeeds {
		f.Add([]byte(s))
	}
	l := Limits{Depth: 3, Elements: 8, Attributes: 2}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAgainstEncodingXML(t, l, body)
	})
}
