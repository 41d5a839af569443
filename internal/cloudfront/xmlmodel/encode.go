package xmlmodel

import (
	"strings"
	"unicode/utf8"
)

// Encode writes e as XML: <Name>Text</Name> for a scalar, the children in
// order for a structure or list. Call Normalize first so the children are
// in the model's order. When xmlns is true the root element carries
// xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/". Text is
// escaped (&, <, > and \r, so that parsing the output gives Text back);
// characters XML cannot carry become U+FFFD. No XML declaration is
// written.
func Encode(b *strings.Builder, e *Element, xmlns bool) {
	if e == nil {
		return
	}
	b.WriteByte('<')
	b.WriteString(e.Name)
	if xmlns {
		b.WriteString(` xmlns="` + Namespace + `"`)
	}
	b.WriteByte('>')
	if len(e.Children) > 0 {
		for _, c := range e.Children {
			Encode(b, c, false)
		}
	} else if e.Text != "" {
		escape(b, e.Text)
	}
	b.WriteString("</")
	b.WriteString(e.Name)
	b.WriteByte('>')
}

// escape writes s with &, < and > escaped, and \r as a character
// reference so that a parser does not fold it into \n. A byte sequence that
// is not UTF-8, or a character XML cannot carry, becomes U+FFFD.
func escape(b *strings.Builder, s string) {
	last := 0
	for i, r := range s {
		var repl string
		switch {
		case r == '&':
			repl = "&amp;"
		case r == '<':
			repl = "&lt;"
		case r == '>':
			repl = "&gt;"
		case r == '\r':
			repl = "&#xD;"
		case r == utf8.RuneError && isInvalidByte(s[i:]), !xmlChar(r):
			repl = "\uFFFD"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		_, size := utf8.DecodeRuneInString(s[i:])
		last = i + size
	}
	b.WriteString(s[last:])
}

// isInvalidByte reports whether s starts with a byte that is not valid
// UTF-8 (as opposed to an encoded U+FFFD).
func isInvalidByte(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return size == 1
}

// xmlChar reports whether r is a Char of XML 1.0.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
