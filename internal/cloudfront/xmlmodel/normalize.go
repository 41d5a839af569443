package xmlmodel

import "fmt"

// compiledFill is a fill with its value parsed into an element template.
type compiledFill struct {
	fill
	m        *member
	template *Element
}

// fills indexes the defaults table by shape name, then member XML name,
// in table order (the first whose condition holds applies).
var fills = compileFills(defaults)

func compileFills(table []fill) map[string]map[string][]*compiledFill {
	out := make(map[string]map[string][]*compiledFill)
	for _, f := range table {
		s := shapeOf(f.shape)
		if s.kind != kindStructure {
			panic(fmt.Sprintf("xmlmodel: default for %s.%s: not a structure", f.shape, f.member))
		}
		var m *member
		for _, mm := range s.members {
			if mm.name == f.member {
				m = mm
			}
		}
		if m == nil {
			panic(fmt.Sprintf("xmlmodel: default for %s.%s: no such member", f.shape, f.member))
		}
		cf := &compiledFill{fill: f, m: m}
		if f.compute == nil {
			// Decode validates the default against the model.
			t, err := Decode([]byte("<"+m.xml+">"+f.value+"</"+m.xml+">"), m.xml, m.shape.name)
			if err != nil {
				panic(fmt.Sprintf("xmlmodel: default for %s.%s: %v", f.shape, f.member, err))
			}
			cf.template = t
		} else if !m.shape.scalar() {
			panic(fmt.Sprintf("xmlmodel: default for %s.%s: compute needs a scalar", f.shape, f.member))
		}
		if out[f.shape] == nil {
			out[f.shape] = make(map[string][]*compiledFill)
		}
		out[f.shape][m.xml] = append(out[f.shape][m.xml], cf)
	}
	return out
}

// defaultFor returns a fresh element holding CloudFront's default for
// member m of parent, or nil when it has none.
func defaultFor(rules map[string][]*compiledFill, m *member, parent *Element) *Element {
	for _, f := range rules[m.xml] {
		if f.when != nil && !f.when(parent) {
			continue
		}
		if f.compute != nil {
			text, ok := f.compute(parent)
			if !ok {
				return nil
			}
			return New(m.xml, text)
		}
		return f.template.Clone()
	}
	return nil
}

// Normalize reorders every element's children into the model's member
// order, recursively, and fills CloudFront's defaults for the members it
// fills when absent (see defaults.go). e is modified in place; the
// children of a list keep their order. Children the model does not know
// (possible only for trees built in code, never after Decode) are kept,
// after the known members. Normalize is idempotent. shape must be a shape
// of the model: an unknown one panics.
func Normalize(e *Element, shape string) {
	normalize(e, shapeOf(shape))
}

func normalize(e *Element, s *shape) {
	if e == nil {
		return
	}
	switch s.kind {
	case kindList:
		for _, c := range e.Children {
			normalize(c, s.elem)
		}
	case kindStructure:
		buckets := make([][]*Element, len(s.members))
		var unknown []*Element
		for _, c := range e.Children {
			if c == nil {
				continue
			}
			if m := s.byXML[c.Name]; m != nil {
				buckets[m.index] = append(buckets[m.index], c)
			} else {
				unknown = append(unknown, c)
			}
		}
		rules := fills[s.name]
		if rules != nil {
			for i, m := range s.members {
				if len(buckets[i]) == 0 {
					if d := defaultFor(rules, m, e); d != nil {
						buckets[i] = []*Element{d}
					}
				}
			}
		}
		out := make([]*Element, 0, len(e.Children)+len(rules))
		for i, m := range s.members {
			for _, c := range buckets[i] {
				normalize(c, m.shape)
				out = append(out, c)
			}
		}
		e.Children = append(out, unknown...)
	}
}
