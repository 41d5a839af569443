package xmlmodel

import "strconv"

// Element is one XML element: a scalar (Text) or a structure/list
// (Children, in document order after Decode, model order after Normalize).
//
// A scalar's Text is what the client sent, with integers, longs and
// booleans in canonical form ("007" becomes "7", " true " becomes "true").
// Structure and list elements have an empty Text.
type Element struct {
	Name     string
	Text     string
	Children []*Element
}

// New returns a scalar element.
func New(name, text string) *Element { return &Element{Name: name, Text: text} }

// NewParent returns a structure or list element with the given children;
// nil children are skipped.
func NewParent(name string, children ...*Element) *Element {
	e := &Element{Name: name}
	for _, c := range children {
		if c != nil {
			e.Children = append(e.Children, c)
		}
	}
	return e
}

// Child returns the first child named name, or nil. It is nil-safe.
func (e *Element) Child(name string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c != nil && c.Name == name {
			return c
		}
	}
	return nil
}

// Find follows path through nested Child lookups; Find() is e itself. It
// returns nil when any step is missing, and is nil-safe.
func (e *Element) Find(path ...string) *Element {
	for _, name := range path {
		e = e.Child(name)
		if e == nil {
			return nil
		}
	}
	return e
}

// Value returns the Text of the element at path and whether it exists.
func (e *Element) Value(path ...string) (string, bool) {
	f := e.Find(path...)
	if f == nil {
		return "", false
	}
	return f.Text, true
}

// Bool returns the boolean at path; ok is false when it is absent or not
// "true"/"false".
func (e *Element) Bool(path ...string) (v bool, ok bool) {
	s, found := e.Value(path...)
	switch {
	case !found:
		return false, false
	case s == "true":
		return true, true
	case s == "false":
		return false, true
	}
	return false, false
}

// Int64 returns the integer at path; ok is false when it is absent or not
// an integer.
func (e *Element) Int64(path ...string) (int64, bool) {
	s, found := e.Value(path...)
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Items returns the children of the Items element under path: for example
// Items("Origins") is the list of <Origin> elements. It is nil when the
// path or its Items is absent.
func (e *Element) Items(path ...string) []*Element {
	it := e.Find(path...).Child("Items")
	if it == nil {
		return nil
	}
	return it.Children
}

// Clone returns a deep copy of e.
func (e *Element) Clone() *Element {
	if e == nil {
		return nil
	}
	c := &Element{Name: e.Name, Text: e.Text}
	if len(e.Children) > 0 {
		c.Children = make([]*Element, 0, len(e.Children))
		for _, ch := range e.Children {
			if ch != nil {
				c.Children = append(c.Children, ch.Clone())
			}
		}
	}
	return c
}
