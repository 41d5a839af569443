// Package xmlmodel is a model-driven XML codec for CloudFront's documents:
// distributions (DistributionConfig, Distribution, DistributionList, ...,
// Tags, TagKeys), policies, origin access controls and identities, and
// functions (the roots model.json lists).
//
// It keeps a document as a generic tree of elements rather than Go structs,
// so that every element a client sends — including the many openfront does
// not act on — survives a round trip unchanged. The shapes come from
// botocore's CloudFront service model, trimmed by tools/genmodel.py into
// model.json and embedded here: element names, member order, required
// members, list member names, scalar types and enum values.
//
// The flow for a request body is Decode (parse and validate), then
// Normalize (model order, CloudFront's defaults), then Encode.
package xmlmodel

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// Namespace is the XML namespace of CloudFront 2020-05-31 documents.
const Namespace = "http://cloudfront.amazonaws.com/doc/2020-05-31/"

//go:embed model.json
var modelJSON []byte

// Shape kinds as model.json names them.
const (
	kindStructure = "structure"
	kindList      = "list"
	kindString    = "string"
	kindInteger   = "integer"
	kindLong      = "long"
	kindBoolean   = "boolean"
	kindTimestamp = "timestamp"
	kindDouble    = "double"
	// kindBlob is base64 text in XML (a function's code, a test event).
	kindBlob = "blob"
)

type shape struct {
	name string
	kind string

	// structure
	members  []*member
	byXML    map[string]*member
	quantity *member // the Quantity member, when the structure pairs it with Items
	items    *member // the Items list member, when paired with Quantity

	// list
	elem     *shape
	elemName string

	// string
	enum    []string
	enumSet map[string]bool
}

type member struct {
	name     string
	xml      string
	shape    *shape
	required bool
	index    int // position in the structure's member order
}

func (s *shape) scalar() bool { return s.kind != kindStructure && s.kind != kindList }

type jsonModel struct {
	Source string               `json:"source"`
	Roots  []string             `json:"roots"`
	Shapes map[string]jsonShape `json:"shapes"`
	Errors map[string]int       `json:"errors"`
}

type jsonShape struct {
	Type    string `json:"type"`
	Members []struct {
		Name  string `json:"name"`
		XML   string `json:"xml"`
		Shape string `json:"shape"`
	} `json:"members"`
	Required   []string `json:"required"`
	Member     string   `json:"member"`
	MemberName string   `json:"memberName"`
	Enum       []string `json:"enum"`
}

// shapes is the model, keyed by shape name; built once at init from the
// embedded model.json. A broken model.json is a build defect, so it panics.
var shapes = mustLoad(modelJSON)

// errorStatus is the HTTP status of each error code the model defines.
var errorStatus map[string]int

// ErrorStatus returns the HTTP status the service model gives an error
// code, and whether the model defines that code.
func ErrorStatus(code string) (int, bool) { s, ok := errorStatus[code]; return s, ok }

// modelSource names the botocore release model.json was generated from.
var modelSource string

func mustLoad(data []byte) map[string]*shape {
	var jm jsonModel
	if err := json.Unmarshal(data, &jm); err != nil {
		panic("xmlmodel: model.json: " + err.Error())
	}
	modelSource = jm.Source
	errorStatus = jm.Errors
	out := make(map[string]*shape, len(jm.Shapes))
	for name, js := range jm.Shapes {
		out[name] = &shape{name: name, kind: js.Type}
	}
	lookup := func(from, name string) *shape {
		s, ok := out[name]
		if !ok {
			panic(fmt.Sprintf("xmlmodel: model.json: %s refers to missing shape %s", from, name))
		}
		return s
	}
	for name, js := range jm.Shapes {
		s := out[name]
		switch js.Type {
		case kindStructure:
			req := make(map[string]bool, len(js.Required))
			for _, r := range js.Required {
				req[r] = true
			}
			s.byXML = make(map[string]*member, len(js.Members))
			for i, jm := range js.Members {
				m := &member{name: jm.Name, xml: jm.XML, shape: lookup(name, jm.Shape), required: req[jm.Name], index: i}
				s.members = append(s.members, m)
				s.byXML[m.xml] = m
			}
			q, it := s.byXML["Quantity"], s.byXML["Items"]
			if q != nil && it != nil && q.shape.kind == kindInteger && it.shape.kind == kindList {
				s.quantity, s.items = q, it
			}
		case kindList:
			s.elem = lookup(name, js.Member)
			s.elemName = js.MemberName
		case kindString:
			if len(js.Enum) > 0 {
				s.enum = js.Enum
				s.enumSet = make(map[string]bool, len(js.Enum))
				for _, v := range js.Enum {
					s.enumSet[v] = true
				}
			}
		case kindInteger, kindLong, kindBoolean, kindTimestamp, kindDouble, kindBlob:
		default:
			panic(fmt.Sprintf("xmlmodel: model.json: shape %s has unknown type %q", name, js.Type))
		}
	}
	for _, r := range jm.Roots {
		lookup("roots", r)
	}
	return out
}

// shapeOf returns the named shape. An unknown name is a programming error.
func shapeOf(name string) *shape {
	s, ok := shapes[name]
	if !ok {
		panic("xmlmodel: unknown shape " + name)
	}
	return s
}

// HasShape reports whether the embedded model defines the named shape.
func HasShape(name string) bool { _, ok := shapes[name]; return ok }
