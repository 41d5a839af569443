package cloudfront

import (
	"bytes"
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
	s := scanner{b: body}
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
			return wb, true
		case !sawPaths && s.lit(`<Paths>`):
			sawPaths = true
			p, ok := s.paths()
			if !ok {
				return wb, false
			}
			wb.Paths = []wirePaths{p}
		case !sawRef && s.lit(`<CallerReference>`):
			sawRef = true
			ref, ok := s.text(`</CallerReference>`)
			if !ok {
				return wb, false
			}
			wb.CallerReference = []string{ref}
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
			q, ok := s.text(`</Quantity>`)
			if !ok {
				return p, false
			}
			p.Quantity = []string{q}
		case !sawItems && s.lit(`<Items>`):
			sawItems = true
			p.Items = &wireItems{}
			for {
				s.space()
				if s.lit(`</Items>`) {
					break
				}
				if !s.lit(`<Path>`) {
					return p, false
				}
				path, ok := s.text(`</Path>`)
				if !ok {
					return p, false
				}
				p.Items.Path = append(p.Items.Path, path)
			}
		default:
			return p, false
		}
	}
}

// text reads character data up to the end tag end, which it consumes. It
// gives up (ok false) on anything encoding/xml would transform or might
// reject: markup, entities, '>' (so no "]]>"), carriage returns, control
// characters, invalid UTF-8 and characters outside XML's range.
func (s *scanner) text(end string) (string, bool) {
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
			return "", false
		case c < 0x20 && c != '\t' && c != '\n':
			return "", false
		}
	}
	t := s.b[start:s.i]
	if !s.lit(end) {
		return "", false
	}
	if !ascii {
		for len(t) > 0 {
			r, size := utf8.DecodeRune(t)
			if r == utf8.RuneError && size == 1 || !(r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000) {
				return "", false
			}
			t = t[size:]
		}
		t = s.b[start : s.i-len(end)]
	}
	return string(t), true
}
