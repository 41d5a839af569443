package cloudfront

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// batchSeeds are bodies around the form clients send: the fast path must
// take the usual ones, and agree with encoding/xml on every one it takes.
var batchSeeds = []string{
	`<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>ref-1</CallerReference><Paths><Items><Path>/images/a.png</Path></Items><Quantity>1</Quantity></Paths></InvalidationBatch>`,
	`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>2</Quantity><Items><Path>/a</Path><Path>/b/*</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>x</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>0</Quantity><Items></Items></Paths><CallerReference></CallerReference></InvalidationBatch>`,
	"<InvalidationBatch>\n  <Paths>\n    <Quantity> 1 </Quantity>\n    <Items>\n      <Path>/p q</Path>\n    </Items>\n  </Paths>\n  <CallerReference>\tref\n</CallerReference>\n</InvalidationBatch>\n",
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/ünïcödé/日本</Path></Items></Paths><CallerReference>€</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a&amp;b</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path><![CDATA[/a]]></Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><!-- c --><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a]]>b</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	"<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a\r\nb</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>",
	"<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a\x01b</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>",
	"<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a\xffb</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>",
	"<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a\xef\xbf\xbeb</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>",
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><Paths><Quantity>1</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>2</Quantity><Items><Path>/a</Path></Items><Items><Path>/b</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path><Other/></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference><CallerReference>s</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference><Extra>1</Extra></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>junk`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch><x/>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference>`,
	`<InvalidationBatch xmlns="urn:other"><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<cf:InvalidationBatch xmlns:cf="http://cloudfront.amazonaws.com/doc/2020-05-31/"><cf:Paths><cf:Quantity>1</cf:Quantity><cf:Items><cf:Path>/a</cf:Path></cf:Items></cf:Paths><cf:CallerReference>r</cf:CallerReference></cf:InvalidationBatch>`,
	`<Batch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></Batch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path a="b">/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path/></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths>text<Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>x</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>-1</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<?xml version="1.1"?><InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<?xml version="1.0" encoding="latin1"?><InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<?xml version='1.0' encoding='utf-8'?>` + "\n" + `<InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	` <?xml version="1.0"?><InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths></Paths></InvalidationBatch>`,
	`<InvalidationBatch></InvalidationBatch>`,
	`<InvalidationBatch/>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths ><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><CallerReference>r</CallerReference></InvalidationBatch>`,
	"\xef\xbb\xbf<InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>",
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Items></Path></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a` + "\x7f" + `</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	// Past the XML limits (xmlmodel.DefaultLimits).
	`<InvalidationBatch><Paths><Quantity>0</Quantity>` + strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70) + `</Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<InvalidationBatch ` + strings.Repeat(`a="=" `, 20) + `><Paths><Quantity>0</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
	`<!DOCTYPE InvalidationBatch><InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>r</CallerReference></InvalidationBatch>`,
}

// checkScanBatch fails when scanBatch answers for body and encoding/xml
// does not give the same answer.
func checkScanBatch(t *testing.T, body []byte) {
	t.Helper()
	fast, ok := scanBatch(body)
	if !ok {
		return
	}
	slow, err := parseBatch(body)
	if err != nil {
		t.Fatalf("scanBatch took %q, encoding/xml rejects it: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("scanBatch(%q)\n = %#v\nencoding/xml:\n   %#v", body, fast, slow)
	}
	fb, ferr := batchFromWire(fast)
	sb, serr := batchFromWire(slow)
	if !reflect.DeepEqual(fb, sb) || !reflect.DeepEqual(ferr, serr) {
		t.Fatalf("decodeBatch(%q) differs: %#v %v / %#v %v", body, fb, ferr, sb, serr)
	}
}

func TestScanBatchTakesWhatClientsSend(t *testing.T) {
	for _, s := range batchSeeds[:6] {
		if _, ok := scanBatch([]byte(s)); !ok {
			t.Errorf("fast path does not take %q", s)
		}
		checkScanBatch(t, []byte(s))
	}
	// A large batch: 3,000 paths of 4,000 characters is the most a valid one holds.
	var b strings.Builder
	b.WriteString(`<InvalidationBatch xmlns="` + Namespace + `"><Paths><Quantity>3000</Quantity><Items>`)
	for i := 0; i < 3000; i++ {
		b.WriteString("<Path>/" + strings.Repeat("x", 3999) + "</Path>")
	}
	b.WriteString(`</Items></Paths><CallerReference>big</CallerReference></InvalidationBatch>`)
	if _, ok := scanBatch([]byte(b.String())); !ok {
		t.Error("fast path does not take a 3,000-path batch")
	}
	checkScanBatch(t, []byte(b.String()))
}

func TestScanBatchAgreesWithEncodingXML(t *testing.T) {
	for _, s := range batchSeeds {
		checkScanBatch(t, []byte(s))
	}
}

// mutate changes body at a few random places, favouring the bytes that
// matter to XML.
func mutate(r *rand.Rand, body []byte) []byte {
	const alphabet = "<>/&;!?[]-\"'= \t\r\n\x00\x7f\xc3\xa9\xef\xbf\xbe\xed\xa0\x80abPQxI0123456789:"
	b := bytes.Clone(body)
	for n := 1 + r.IntN(3); n > 0 && len(b) > 0; n-- {
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0: // replace a byte
			b[i] = alphabet[r.IntN(len(alphabet))]
		case 1: // insert a byte
			b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
		case 2: // delete a few bytes
			j := min(len(b), i+1+r.IntN(4))
			b = append(b[:i], b[j:]...)
		case 3: // duplicate a piece
			j := min(len(b), i+1+r.IntN(40))
			k := r.IntN(len(b))
			b = append(b[:k], append(bytes.Clone(b[i:j]), b[k:]...)...)
		}
	}
	return b
}

// Random mutations of the seeds, in every test run (go test -fuzz
// FuzzScanBatch explores further).
func TestScanBatchMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for i := 0; i < 200000; i++ {
		body := mutate(r, []byte(batchSeeds[r.IntN(len(batchSeeds))]))
		if _, ok := scanBatch(body); ok {
			taken++
		}
		checkScanBatch(t, body)
	}
	t.Logf("fast path took %d of 200000 mutated bodies", taken)
}

func FuzzScanBatch(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScanBatch(t, body)
	})
}

var benchBody = []byte(`<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>m3h1x2-12345</CallerReference><Paths><Items><Path>/images/m3h1x2-12345.png</Path></Items><Quantity>1</Quantity></Paths></InvalidationBatch>`)

func BenchmarkDecodeBatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeBatch(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatchEncodingXML(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		wb, err := parseBatch(benchBody)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := batchFromWire(wb); err != nil {
			b.Fatal(err)
		}
	}
}

// genBatch builds a body of the shape the fast path takes, with random
// whitespace, declaration, element order and text, so that the values
// (not only the verdicts) are compared on many bodies it takes.
func genBatch(r *rand.Rand) []byte {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	ws := func() string { return pick("", "", " ", "\n", "\t", "\r\n", "  \n  ") }
	text := func() string {
		const chars = "abz/*.-_~ 019\t\n?#%+=:;,!\"'()[]{}|\\^`é日\U0001F600\x7f\r&<>]"
		var b strings.Builder
		for n := r.IntN(12); n > 0; n-- {
			c := []rune(chars)
			b.WriteRune(c[r.IntN(len(c))])
		}
		return b.String()
	}
	var b strings.Builder
	b.WriteString(pick("", `<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0"?>`+"\n", `<?xml version='1.0' encoding='utf-8'?>`))
	b.WriteString(ws())
	b.WriteString(pick(`<InvalidationBatch>`, `<InvalidationBatch xmlns="`+Namespace+`">`))
	paths := func() string {
		var p strings.Builder
		p.WriteString("<Paths>" + ws())
		qty := "<Quantity>" + pick("1", " 2 ", "0", text()) + "</Quantity>" + ws()
		var items strings.Builder
		if r.IntN(5) > 0 {
			items.WriteString("<Items>" + ws())
			for n := r.IntN(4); n > 0; n-- {
				items.WriteString("<Path>" + text() + "</Path>" + ws())
			}
			items.WriteString("</Items>" + ws())
		}
		if r.IntN(2) == 0 {
			p.WriteString(qty + items.String())
		} else {
			p.WriteString(items.String() + qty)
		}
		p.WriteString("</Paths>" + ws())
		return p.String()
	}
	ref := "<CallerReference>" + text() + "</CallerReference>" + ws()
	if r.IntN(2) == 0 {
		b.WriteString(ws() + paths() + ref)
	} else {
		b.WriteString(ws() + ref + paths())
	}
	b.WriteString("</InvalidationBatch>" + ws())
	return []byte(b.String())
}

func TestScanBatchGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	taken, n := 0, 100000
	if testing.Short() {
		n = 5000 // the full suite tries 100,000
	}
	for i := 0; i < n; i++ {
		body := genBatch(r)
		if _, ok := scanBatch(body); ok {
			taken++
		}
		checkScanBatch(t, body)
		checkScanBatch(t, mutate(r, body))
	}
	t.Logf("fast path took %d of %d generated bodies", taken, n)
}
