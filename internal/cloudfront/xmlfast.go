package cloudfront

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// scanBatch is decodeBatch's fast path: it reads the <InvalidationBatch>
// documents clients actually send (no comments, entities, CDATA,
// attributes but the namespace, self-closing or repeated elements) into
// the same wireBatch encoding/xml would produce, without reflection. It
// never rejects: anything outside that narrow form — including every
// malformed document — returns ok == false, and the caller decodes the
// body with encoding/xml, so what is accepted and rejected, and with which
// error, is encoding/xml's decision. FuzzScanBatch checks that whenever
// scanBatch answers, encoding/xml answers the same.
func scanBatch(body []byte) (wb wireBatch, ok bool) {
	s := scanner{b: body, w: new(scanned)}
	s.w.texts = s.w.texts3[:0]
	// Prolog: an optional XML declaration of the usual spellings, then
	// whitespace.
	for _, decl := range xmlDecls {
		if bytes.HasPrefix(s.b, decl) {
			s.i = len(decl)
			break
		}
	}
	s.space()
	switch {
	case s.lit(`<InvalidationBatch>`):
	case s.lit(`<InvalidationBatch xmlns="` + Namespace + `">`):
		wb.XMLName.Space = Namespace
	default:
		return wb, false
	}
	wb.XMLName.Local = "InvalidationBatch"
	var sawPaths, sawRef bool
	for {
		s.space()
		switch {
		case s.lit(`</InvalidationBatch>`):
			s.space()
			if s.i != len(s.b) || !sawPaths && !sawRef {
				// Trailing content, or an empty batch (its errors are
				// encoding/xml's path's business).
				return wb, false
			}
			s.strings()
			return wb, true
		case !sawPaths && s.lit(`<Paths>`):
			sawPaths = true
			p, ok := s.paths()
			if !ok {
				return wb, false
			}
			s.w.paths[0] = p
			wb.Paths = s.w.paths[:]
		case !sawRef && s.lit(`<CallerReference>`):
			sawRef = true
			if !s.text(`</CallerReference>`, &s.w.ref[0]) {
				return wb, false
			}
			wb.CallerReference = s.w.ref[:]
		default:
			return wb, false
		}
	}
}

// xmlDecls are the XML declarations scanBatch accepts (SDKs send the
// first or none; encoding/xml accepts each of these).
var xmlDecls = [][]byte{
	[]byte(`<?xml version="1.0" encoding="UTF-8"?>`),
	[]byte(`<?xml version="1.0" encoding="utf-8"?>`),
	[]byte(`<?xml version="1.0"?>`),
	[]byte(`<?xml version='1.0' encoding='UTF-8'?>`),
	[]byte(`<?xml version='1.0' encoding='utf-8'?>`),
	[]byte(`<?xml version='1.0'?>`),
}

type scanner struct {
	b []byte
	i int
	w *scanned
}

// scanned holds what a scan allocates, in one allocation instead of one
// for each slice of the wireBatch (and for a batch of one path).
type scanned struct {
	paths [1]wirePaths
	ref   [1]string
	qty   [1]string
	items wireItems
	path  [1]string
	// texts are the character data read, in the body, and the strings
	// they become; strings makes them all one string (one allocation, and
	// one object where the invalidation's record keeps its reference and
	// paths).
	texts  []text
	texts3 [3]text
}

type text struct {
	b   []byte
	dst *string
}

// strings sets the strings of the texts read, and drops the texts (no
// reference to the request's buffer stays with the batch).
func (s *scanner) strings() {
	n := 0
	for _, t := range s.w.texts {
		n += len(t.b)
	}
	var b strings.Builder
	b.Grow(n)
	for _, t := range s.w.texts {
		b.Write(t.b)
	}
	all := b.String()
	for _, t := range s.w.texts {
		*t.dst, all = all[:len(t.b)], all[len(t.b):]
	}
	clear(s.w.texts3[:])
	s.w.texts = nil
}

// space skips XML whitespace.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// lit consumes tag if the input continues with it.
func (s *scanner) lit(tag string) bool {
	if len(s.b)-s.i >= len(tag) && string(s.b[s.i:s.i+len(tag)]) == tag {
		s.i += len(tag)
		return true
	}
	return false
}

// paths reads the inside of <Paths> and its end tag.
func (s *scanner) paths() (p wirePaths, ok bool) {
	var sawQty, sawItems bool
	for {
		s.space()
		switch {
		case s.lit(`</Paths>`):
			return p, true
		case !sawQty && s.lit(`<Quantity>`):
			sawQty = true
			if !s.text(`</Quantity>`, &s.w.qty[0]) {
				return p, false
			}
			p.Quantity = s.w.qty[:]
		case !sawItems && s.lit(`<Items>`):
			sawItems = true
			p.Items = &s.w.items
			first := len(s.w.texts)
			for {
				s.space()
				if s.lit(`</Items>`) {
					break
				}
				if !s.lit(`<Path>`) || !s.text(`</Path>`, nil) {
					return p, false
				}
			}
			// Where the paths go is known once they are counted; none
			// leaves Path nil, as encoding/xml does.
			switch n := len(s.w.texts) - first; n {
			case 0:
			case 1:
				p.Items.Path = s.w.path[:]
			default:
				p.Items.Path = make([]string, n)
			}
			for i := range p.Items.Path {
				s.w.texts[first+i].dst = &p.Items.Path[i]
			}
		default:
			return p, false
		}
	}
}

// text reads character data up to the end tag end, which it consumes, and
// notes it as the text of *dst (see strings; dst may be set later). It
// gives up (false) on anything encoding/xml would transform or might
// reject: markup, entities, '>' (so no "]]>"), carriage returns, control
// characters, invalid UTF-8 and characters outside XML's range.
func (s *scanner) text(end string, dst *string) bool {
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if c == '<' {
			break
		}
		switch {
		case c >= 0x80:
			ascii = false
		case c == '&' || c == '>' || c == 0x7f:
			return false
		case c < 0x20 && c != '\t' && c != '\n':
			return false
		}
	}
	t := s.b[start:s.i]
	if !s.lit(end) {
		return false
	}
	if !ascii {
		for len(t) > 0 {
			r, size := utf8.DecodeRune(t)
			if r == utf8.RuneError && size == 1 || !(r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000) {
				return false
			}
			t = t[size:]
		}
		t = s.b[start : s.i-len(end)]
	}
	s.w.texts = append(s.w.texts, text{t, dst})
	return true
}
