package xmlmodel

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
)

const ns = `xmlns="` + Namespace + `"`

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeOK(t testing.TB, body []byte, root, shape string) *Element {
	t.Helper()
	e, err := Decode(body, root, shape)
	if err != nil {
		t.Fatalf("Decode: %v\nbody: %s", err, body)
	}
	return e
}

func encode(e *Element, xmlns bool) string {
	var b strings.Builder
	Encode(&b, e, xmlns)
	return b.String()
}

// leaf is one scalar element of a document as a plain XML reader sees it,
// independently of the codec: its path (a repeated name carries its index
// among same-named siblings) and text.
type leaf struct{ path, text string }

func leaves(t testing.TB, doc []byte) []leaf {
	t.Helper()
	type open struct {
		path     string
		counts   map[string]int
		hasChild bool
		text     strings.Builder
	}
	var (
		out   []leaf
		stack []*open
	)
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("leaves: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			path := tk.Name.Local
			if n := len(stack); n > 0 {
				p := stack[n-1]
				p.hasChild = true
				path = fmt.Sprintf("%s/%s[%d]", p.path, tk.Name.Local, p.counts[tk.Name.Local])
				p.counts[tk.Name.Local]++
			}
			stack = append(stack, &open{path: path, counts: map[string]int{}})
		case xml.CharData:
			if n := len(stack); n > 0 {
				stack[n-1].text.Write(tk)
			}
		case xml.EndElement:
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !o.hasChild {
				out = append(out, leaf{o.path, o.text.String()})
			}
		}
	}
}

// checkModelOrder fails when a structure's children are not in the
// model's member order anywhere under e.
func checkModelOrder(t *testing.T, e *Element, s *shape, path string) {
	t.Helper()
	switch s.kind {
	case kindStructure:
		last := -1
		for _, c := range e.Children {
			m := s.byXML[c.Name]
			if m == nil {
				t.Errorf("%s: unknown child %s", path, c.Name)
				continue
			}
			if m.index <= last {
				t.Errorf("%s: %s out of model order", path, c.Name)
			}
			last = m.index
			checkModelOrder(t, c, m.shape, path+"."+c.Name)
		}
	case kindList:
		for i, c := range e.Children {
			checkModelOrder(t, c, s.elem, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// TestRoundTripFull decodes a full DistributionConfig as boto3 serializes
// it (tools/genmodel.py --fixture) and checks that every element and value
// comes back, in model order, with only CloudFront's defaults added.
func TestRoundTripFull(t *testing.T) {
	t.Logf("model: %s", modelSource)
	body := readFixture(t, "full.xml")
	e := decodeOK(t, body, "DistributionConfig", "DistributionConfig")
	Normalize(e, "DistributionConfig")
	out := encode(e, true)
	checkModelOrder(t, e, shapeOf("DistributionConfig"), "DistributionConfig")

	in, got := leaves(t, body), leaves(t, []byte(out))
	// The fixture is in model order, so its leaves must appear in the
	// output in the same order with the same values.
	j := 0
	var added []string
	for _, l := range got {
		if j < len(in) && l == in[j] {
			j++
			continue
		}
		added = append(added, l.path+"="+l.text)
	}
	if j != len(in) {
		t.Fatalf("input leaf %q=%q missing or changed in output:\n%s", in[j].path, in[j].text, out)
	}
	// The third origin (a VPC origin) is the only part of the fixture that
	// leaves out members CloudFront fills.
	vpc := "DistributionConfig/Origins[0]/Items[0]/Origin[2]/"
	want := []string{
		vpc + "OriginPath[0]=",
		vpc + "CustomHeaders[0]/Quantity[0]=0",
		vpc + "ConnectionAttempts[0]=3",
		vpc + "ConnectionTimeout[0]=10",
		vpc + "OriginShield[0]/Enabled[0]=false",
		vpc + "OriginAccessControlId[0]=",
	}
	if strings.Join(added, "\n") != strings.Join(want, "\n") {
		t.Errorf("added leaves:\n%s\nwant:\n%s", strings.Join(added, "\n"), strings.Join(want, "\n"))
	}

	// The output decodes again, and normalizing it again changes nothing.
	again := decodeOK(t, []byte(out), "DistributionConfig", "DistributionConfig")
	Normalize(again, "DistributionConfig")
	if out2 := encode(again, true); out2 != out {
		t.Errorf("second round trip differs:\n%s\n%s", out, out2)
	}
}

// shuffle permutes the children of every structure under e (list children
// keep their order: it is meaningful).
func shuffle(r *rand.Rand, e *Element, s *shape) {
	switch s.kind {
	case kindStructure:
		r.Shuffle(len(e.Children), func(i, j int) { e.Children[i], e.Children[j] = e.Children[j], e.Children[i] })
		for _, c := range e.Children {
			shuffle(r, c, s.byXML[c.Name].shape)
		}
	case kindList:
		for _, c := range e.Children {
			shuffle(r, c, s.elem)
		}
	}
}

func TestShuffledInputIsReordered(t *testing.T) {
	body := readFixture(t, "full.xml")
	ref := decodeOK(t, body, "DistributionConfig", "DistributionConfig")
	Normalize(ref, "DistributionConfig")
	want := encode(ref, true)
	dc := shapeOf("DistributionConfig")
	for seed := int64(1); seed <= 20; seed++ {
		e := decodeOK(t, body, "DistributionConfig", "DistributionConfig")
		shuffle(rand.New(rand.NewSource(seed)), e, dc)
		shuffled := encode(e, seed%2 == 0)
		d := decodeOK(t, []byte(shuffled), "DistributionConfig", "DistributionConfig")
		if encode(d, seed%2 == 0) != shuffled {
			t.Fatalf("seed %d: Decode did not keep document order", seed)
		}
		Normalize(d, "DistributionConfig")
		if got := encode(d, true); got != want {
			t.Fatalf("seed %d: shuffled input normalizes to\n%s\nwant\n%s", seed, got, want)
		}
	}
}

// minimal is the smallest config CloudFront accepts, much like the AWS
// CLI's --origin-domain-name template.
const minimal = `<DistributionConfig ` + ns + `>` +
	`<CallerReference>ref-1</CallerReference>` +
	`<Origins><Quantity>1</Quantity><Items><Origin><Id>s3</Id><DomainName>b.s3.amazonaws.com</DomainName>` +
	`<S3OriginConfig><OriginAccessIdentity/></S3OriginConfig></Origin></Items></Origins>` +
	`<DefaultCacheBehavior><TargetOriginId>s3</TargetOriginId>` +
	`<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies></ForwardedValues>` +
	`<ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy></DefaultCacheBehavior>` +
	`<Comment></Comment><Enabled>true</Enabled></DistributionConfig>`

func TestMinimalConfigGetsDefaults(t *testing.T) {
	e := decodeOK(t, []byte(minimal), "DistributionConfig", "DistributionConfig")
	Normalize(e, "DistributionConfig")
	got := encode(e, true)
	want := `<DistributionConfig ` + ns + `>` +
		`<CallerReference>ref-1</CallerReference>` +
		`<Aliases><Quantity>0</Quantity></Aliases>` +
		`<DefaultRootObject></DefaultRootObject>` +
		`<Origins><Quantity>1</Quantity><Items><Origin><Id>s3</Id><DomainName>b.s3.amazonaws.com</DomainName>` +
		`<OriginPath></OriginPath><CustomHeaders><Quantity>0</Quantity></CustomHeaders>` +
		`<S3OriginConfig><OriginAccessIdentity></OriginAccessIdentity></S3OriginConfig>` +
		`<ConnectionAttempts>3</ConnectionAttempts><ConnectionTimeout>10</ConnectionTimeout>` +
		`<OriginShield><Enabled>false</Enabled></OriginShield><OriginAccessControlId></OriginAccessControlId>` +
		`</Origin></Items></Origins>` +
		`<OriginGroups><Quantity>0</Quantity></OriginGroups>` +
		`<DefaultCacheBehavior><TargetOriginId>s3</TargetOriginId>` +
		`<TrustedSigners><Enabled>false</Enabled><Quantity>0</Quantity></TrustedSigners>` +
		`<TrustedKeyGroups><Enabled>false</Enabled><Quantity>0</Quantity></TrustedKeyGroups>` +
		`<ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>` +
		`<AllowedMethods><Quantity>2</Quantity><Items><Method>HEAD</Method><Method>GET</Method></Items>` +
		`<CachedMethods><Quantity>2</Quantity><Items><Method>HEAD</Method><Method>GET</Method></Items></CachedMethods></AllowedMethods>` +
		`<SmoothStreaming>false</SmoothStreaming><Compress>false</Compress>` +
		`<LambdaFunctionAssociations><Quantity>0</Quantity></LambdaFunctionAssociations>` +
		`<FunctionAssociations><Quantity>0</Quantity></FunctionAssociations>` +
		`<FieldLevelEncryptionId></FieldLevelEncryptionId>` +
		`<GrpcConfig><Enabled>false</Enabled></GrpcConfig>` +
		`<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies>` +
		`<Headers><Quantity>0</Quantity></Headers><QueryStringCacheKeys><Quantity>0</Quantity></QueryStringCacheKeys></ForwardedValues>` +
		`<MinTTL>0</MinTTL><DefaultTTL>86400</DefaultTTL><MaxTTL>31536000</MaxTTL>` +
		`</DefaultCacheBehavior>` +
		`<CacheBehaviors><Quantity>0</Quantity></CacheBehaviors>` +
		`<CustomErrorResponses><Quantity>0</Quantity></CustomErrorResponses>` +
		`<Comment></Comment>` +
		`<Logging><Enabled>false</Enabled><IncludeCookies>false</IncludeCookies><Bucket></Bucket><Prefix></Prefix></Logging>` +
		`<PriceClass>PriceClass_All</PriceClass>` +
		`<Enabled>true</Enabled>` +
		`<ViewerCertificate><CloudFrontDefaultCertificate>true</CloudFrontDefaultCertificate><SSLSupportMethod>vip</SSLSupportMethod>` +
		`<MinimumProtocolVersion>TLSv1</MinimumProtocolVersion><CertificateSource>cloudfront</CertificateSource></ViewerCertificate>` +
		`<Restrictions><GeoRestriction><RestrictionType>none</RestrictionType><Quantity>0</Quantity></GeoRestriction></Restrictions>` +
		`<WebACLId></WebACLId><HttpVersion>http2</HttpVersion><IsIPV6Enabled>true</IsIPV6Enabled><Staging>false</Staging>` +
		`</DistributionConfig>`
	if got != want {
		t.Errorf("normalized minimal config:\n%s\nwant:\n%s", got, want)
	}
	// Defaults are valid documents themselves.
	decodeOK(t, []byte(got), "DistributionConfig", "DistributionConfig")
}

// normalized decodes minimal with the replacements applied and normalizes it.
func normalized(t *testing.T, replacements ...string) *Element {
	t.Helper()
	body := strings.NewReplacer(replacements...).Replace(minimal)
	e := decodeOK(t, []byte(body), "DistributionConfig", "DistributionConfig")
	Normalize(e, "DistributionConfig")
	return e
}

func TestConditionalDefaults(t *testing.T) {
	t.Run("acm certificate", func(t *testing.T) {
		arn := "arn:aws:acm:us-east-1:123456789012:certificate/abc"
		e := normalized(t, `<Enabled>true</Enabled>`, `<Enabled>true</Enabled><ViewerCertificate><ACMCertificateArn>`+arn+
			`</ACMCertificateArn><SSLSupportMethod>sni-only</SSLSupportMethod></ViewerCertificate>`)
		got := encode(e.Child("ViewerCertificate"), false)
		want := `<ViewerCertificate><CloudFrontDefaultCertificate>false</CloudFrontDefaultCertificate>` +
			`<ACMCertificateArn>` + arn + `</ACMCertificateArn><SSLSupportMethod>sni-only</SSLSupportMethod>` +
			`<MinimumProtocolVersion>TLSv1.2_2021</MinimumProtocolVersion><Certificate>` + arn + `</Certificate>` +
			`<CertificateSource>acm</CertificateSource></ViewerCertificate>`
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("iam certificate", func(t *testing.T) {
		e := normalized(t, `<Enabled>true</Enabled>`, `<Enabled>true</Enabled><ViewerCertificate><IAMCertificateId>ASCAEXAMPLE</IAMCertificateId>`+
			`<SSLSupportMethod>sni-only</SSLSupportMethod><MinimumProtocolVersion>TLSv1.2_2019</MinimumProtocolVersion></ViewerCertificate>`)
		got := encode(e.Child("ViewerCertificate"), false)
		want := `<ViewerCertificate><CloudFrontDefaultCertificate>false</CloudFrontDefaultCertificate>` +
			`<IAMCertificateId>ASCAEXAMPLE</IAMCertificateId><SSLSupportMethod>sni-only</SSLSupportMethod>` +
			`<MinimumProtocolVersion>TLSv1.2_2019</MinimumProtocolVersion><Certificate>ASCAEXAMPLE</Certificate>` +
			`<CertificateSource>iam</CertificateSource></ViewerCertificate>`
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("sent values are kept", func(t *testing.T) {
		e := normalized(t, `<Enabled>true</Enabled>`, `<Enabled>true</Enabled><ViewerCertificate><CloudFrontDefaultCertificate>true</CloudFrontDefaultCertificate>`+
			`<MinimumProtocolVersion>TLSv1.2_2021</MinimumProtocolVersion></ViewerCertificate><PriceClass>PriceClass_100</PriceClass><IsIPV6Enabled>false</IsIPV6Enabled>`)
		for path, want := range map[string]string{
			"ViewerCertificate/MinimumProtocolVersion": "TLSv1.2_2021",
			"ViewerCertificate/SSLSupportMethod":       "vip",
			"PriceClass":                               "PriceClass_100",
			"IsIPV6Enabled":                            "false",
		} {
			if got, _ := e.Value(strings.Split(path, "/")...); got != want {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
	})
	t.Run("custom origin", func(t *testing.T) {
		e := normalized(t, `<S3OriginConfig><OriginAccessIdentity/></S3OriginConfig>`,
			`<CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>match-viewer</OriginProtocolPolicy></CustomOriginConfig>`)
		got := encode(e.Items("Origins")[0].Child("CustomOriginConfig"), false)
		want := `<CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>match-viewer</OriginProtocolPolicy>` +
			`<OriginSslProtocols><Quantity>2</Quantity><Items><SslProtocol>SSLv3</SslProtocol><SslProtocol>TLSv1</SslProtocol></Items></OriginSslProtocols>` +
			`<OriginReadTimeout>30</OriginReadTimeout><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout></CustomOriginConfig>`
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("cache policy behavior has no TTLs", func(t *testing.T) {
		e := normalized(t,
			`<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies></ForwardedValues>`,
			`<CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId>`,
			`<Comment></Comment>`,
			`<CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>/a/*</PathPattern><TargetOriginId>s3</TargetOriginId>`+
				`<ViewerProtocolPolicy>https-only</ViewerProtocolPolicy><AllowedMethods><Quantity>3</Quantity><Items>`+
				`<Method>GET</Method><Method>HEAD</Method><Method>OPTIONS</Method></Items></AllowedMethods>`+
				`<CachePolicyId>p</CachePolicyId></CacheBehavior></Items></CacheBehaviors><Comment></Comment>`)
		for _, b := range []*Element{e.Child("DefaultCacheBehavior"), e.Items("CacheBehaviors")[0]} {
			for _, ttl := range []string{"MinTTL", "DefaultTTL", "MaxTTL", "ForwardedValues"} {
				if b.Child(ttl) != nil {
					t.Errorf("%s: %s filled without ForwardedValues", b.Name, ttl)
				}
			}
			if v, _ := b.Value("GrpcConfig", "Enabled"); v != "false" {
				t.Errorf("%s: GrpcConfig not filled", b.Name)
			}
		}
		cb := e.Items("CacheBehaviors")[0]
		if got := encode(cb.Find("AllowedMethods", "CachedMethods"), false); got !=
			`<CachedMethods><Quantity>2</Quantity><Items><Method>HEAD</Method><Method>GET</Method></Items></CachedMethods>` {
			t.Errorf("CachedMethods default: %s", got)
		}
		checkModelOrder(t, e, shapeOf("DistributionConfig"), "DistributionConfig")
	})
}

func TestDecodeErrors(t *testing.T) {
	type tc struct {
		name, body string
		code, msg  string // msg: a substring of the message
	}
	repl := func(pairs ...string) string { return strings.NewReplacer(pairs...).Replace(minimal) }
	cases := []tc{
		{"empty body", "", CodeMissingBody, "requires a body"},
		{"whitespace body", " \n\t ", CodeMissingBody, "requires a body"},
		{"not xml", "hello", CodeInvalidArgument, MsgMalformedXML},
		{"truncated", minimal[:len(minimal)-10], CodeInvalidArgument, MsgMalformedXML},
		{"mismatched tags", repl("</Comment>", "</Comments>"), CodeInvalidArgument, MsgMalformedXML},
		{"wrong root", strings.ReplaceAll(minimal, "DistributionConfig", "InvalidationBatch"), CodeInvalidArgument, MsgMalformedXML},
		{"wrong namespace", repl(ns, `xmlns="http://cloudfront.amazonaws.com/doc/2019-03-26/"`), CodeInvalidArgument, MsgMalformedXML},
		{"two roots", minimal + minimal, CodeInvalidArgument, MsgMalformedXML},
		{"trailing text", minimal + "x", CodeInvalidArgument, MsgMalformedXML},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]>` + minimal, CodeInvalidArgument, MsgMalformedXML},
		{"unknown entity", repl("ref-1", "&bogus;"), CodeInvalidArgument, MsgMalformedXML},
		{"text in a structure", repl("<Origins>", "<Origins>text"), CodeInvalidArgument, MsgMalformedXML},
		{"unknown element", repl("<TargetOriginId>", "<Bogus>1</Bogus><TargetOriginId>"), CodeInvalidArgument,
			"Unexpected element Bogus in DistributionConfig.DefaultCacheBehavior."},
		{"unknown top-level element", repl("<Comment>", "<Tags/><Comment>"), CodeInvalidArgument,
			"Unexpected element Tags in DistributionConfig."},
		{"element inside a scalar", repl("<Comment></Comment>", "<Comment><b>x</b></Comment>"), CodeInvalidArgument,
			"Unexpected element b in DistributionConfig.Comment."},
		{"wrong list member", repl("<Comment>", "<Aliases><Quantity>1</Quantity><Items><Alias>a.example.com</Alias></Items></Aliases><Comment>"),
			CodeInvalidArgument, "Unexpected element Alias in DistributionConfig.Aliases.Items."},
		{"element in another namespace", repl("<Comment>", `<x:Comment xmlns:x="urn:other"/><Comment>`), CodeInvalidArgument, MsgMalformedXML},
		{"duplicate member", repl("<Enabled>true</Enabled>", "<Enabled>true</Enabled><Enabled>false</Enabled>"), CodeInvalidArgument,
			"Element Enabled appears more than once in DistributionConfig."},
		{"bad boolean", repl("<Enabled>true</Enabled>", "<Enabled>yes</Enabled>"), CodeInvalidArgument,
			"The value 'yes' of DistributionConfig.Enabled is not a valid boolean"},
		{"boolean 1", repl("<QueryString>false</QueryString>", "<QueryString>1</QueryString>"), CodeInvalidArgument,
			"DistributionConfig.DefaultCacheBehavior.ForwardedValues.QueryString"},
		{"bad integer", repl("<Quantity>1</Quantity>", "<Quantity>one</Quantity>"), CodeInvalidArgument,
			"The value 'one' of DistributionConfig.Origins.Quantity is not a valid integer."},
		{"fractional integer", repl("</DomainName>", "</DomainName><ConnectionAttempts>2.5</ConnectionAttempts>"), CodeInvalidArgument,
			"DistributionConfig.Origins.Items[0].ConnectionAttempts is not a valid integer"},
		{"integer overflow", repl("</DomainName>", "</DomainName><ConnectionAttempts>2147483648</ConnectionAttempts>"), CodeInvalidArgument,
			"not a valid integer"},
		{"bad long", repl("</ForwardedValues>", "</ForwardedValues><MaxTTL>forever</MaxTTL>"), CodeInvalidArgument,
			"The value 'forever' of DistributionConfig.DefaultCacheBehavior.MaxTTL is not a valid long."},
		{"bad enum", repl("allow-all", "sometimes"), CodeInvalidArgument,
			"Value 'sometimes' at 'DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy' failed to satisfy constraint: Member must satisfy enum value set: [allow-all, https-only, redirect-to-https]"},
		{"missing required", repl("<TargetOriginId>s3</TargetOriginId>", ""), CodeInvalidArgument,
			"The parameter DistributionConfig.DefaultCacheBehavior.TargetOriginId is required."},
		{"missing required in a list item", repl("<DomainName>b.s3.amazonaws.com</DomainName>", ""), CodeInvalidArgument,
			"The parameter DistributionConfig.Origins.Items[0].DomainName is required."},
		{"missing required top level", repl("<Comment></Comment>", ""), CodeInvalidArgument,
			"The parameter DistributionConfig.Comment is required."},
		{"missing Quantity", repl("<Quantity>1</Quantity>", ""), CodeInvalidArgument,
			"The parameter DistributionConfig.Origins.Quantity is required."},
		{"quantity too high", repl("<Quantity>1</Quantity>", "<Quantity>2</Quantity>"), CodeInconsistentQuantities,
			"The value of Quantity and the size of Items don't match in DistributionConfig.Origins."},
		{"quantity without items", repl("<Comment>", "<Aliases><Quantity>1</Quantity></Aliases><Comment>"), CodeInconsistentQuantities,
			"don't match in DistributionConfig.Aliases."},
		{"items with quantity 0", repl("<Comment>", "<Aliases><Quantity>0</Quantity><Items><CNAME>a</CNAME></Items></Aliases><Comment>"),
			CodeInconsistentQuantities, "don't match in DistributionConfig.Aliases."},
		{"inconsistent deep inside", repl("<Comment>", `<CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior>`+
			`<PathPattern>/a</PathPattern><TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>`+
			`<AllowedMethods><Quantity>2</Quantity><Items><Method>GET</Method><Method>HEAD</Method></Items>`+
			`<CachedMethods><Quantity>3</Quantity><Items><Method>GET</Method><Method>HEAD</Method></Items></CachedMethods>`+
			`</AllowedMethods></CacheBehavior></Items></CacheBehaviors><Comment>`), CodeInconsistentQuantities,
			"The value of Quantity and the size of Items don't match in DistributionConfig.CacheBehaviors.Items[0].AllowedMethods.CachedMethods."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Decode([]byte(c.body), "DistributionConfig", "DistributionConfig")
			if err == nil {
				t.Fatalf("no error; decoded %s", encode(e, false))
			}
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if xe.Code != c.code || !strings.Contains(xe.Message, c.msg) {
				t.Errorf("got %s: %s\nwant %s containing %q", xe.Code, xe.Message, c.code, c.msg)
			}
			if xe.Error() != xe.Code+": "+xe.Message {
				t.Errorf("Error() = %q", xe.Error())
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	repl := func(pairs ...string) string { return strings.NewReplacer(pairs...).Replace(minimal) }
	cases := map[string]string{
		"no namespace":       repl(" "+ns, ""),
		"prefixed namespace": strings.NewReplacer("<DistributionConfig "+ns+">", `<cf:DistributionConfig xmlns:cf="`+Namespace+`">`, "</DistributionConfig>", "</cf:DistributionConfig>").Replace(minimal),
		"xml declaration, comments and whitespace": `<?xml version="1.0" encoding="UTF-8"?>` + "\n<!-- c -->\n" +
			strings.ReplaceAll(minimal, "><", ">\n  <") + "\n<!-- end -->\n",
		"quantity 0 omits required Items": repl("<Comment>", "<CacheBehaviors><Quantity>0</Quantity></CacheBehaviors><Comment>",
			"<S3OriginConfig>", "<CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy>"+
				"<OriginSslProtocols><Quantity>0</Quantity></OriginSslProtocols></CustomOriginConfig><S3OriginConfig>"),
		"byte order mark":             "\xef\xbb\xbf" + minimal,
		"empty Items with quantity 0": repl("<Comment>", "<Aliases><Quantity>0</Quantity><Items/></Aliases><Comment>"),
		"padded scalars":              repl("<Quantity>1</Quantity>", "<Quantity> 01 </Quantity>", "<Enabled>true</Enabled>", "<Enabled>\n true\n</Enabled>"),
		"cdata string":                repl("<Comment></Comment>", "<Comment><![CDATA[a <b> & c]]></Comment>"),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			e := decodeOK(t, []byte(body), "DistributionConfig", "DistributionConfig")
			if v, _ := e.Value("Origins", "Quantity"); v != "1" {
				t.Errorf("Origins.Quantity = %q, want canonical 1", v)
			}
			if v, _ := e.Value("Enabled"); v != "true" {
				t.Errorf("Enabled = %q, want canonical true", v)
			}
		})
	}
	e := decodeOK(t, []byte(cases["cdata string"]), "DistributionConfig", "DistributionConfig")
	if v, _ := e.Value("Comment"); v != "a <b> & c" {
		t.Errorf("Comment = %q", v)
	}
}

// TestStringsKeptExactly: string values, whitespace and characters that
// need escaping included, survive Decode and Encode unchanged.
func TestStringsKeptExactly(t *testing.T) {
	for _, s := range []string{"", " ", "  padded  ", "a\nb\tc", "cr\rlf\r\n", `<&>"'`, "ünïcødé ✓ 𝄞", "]]>"} {
		body := encode(NewParent("Logging", New("Prefix", s)), true)
		d, err := Decode([]byte(body), "Logging", "LoggingConfig")
		if err != nil {
			t.Fatalf("%q: %v (%s)", s, err, body)
		}
		if got, _ := d.Value("Prefix"); got != s {
			t.Errorf("%q came back as %q (encoded %s)", s, got, body)
		}
	}
	// Characters XML cannot carry are replaced, never written raw.
	for _, s := range []string{"nul\x00", "esc\x1b", "bad\xffutf8", "\ufffe"} {
		body := encode(NewParent("Logging", New("Prefix", s)), false)
		if _, err := Decode([]byte(body), "Logging", "LoggingConfig"); err != nil {
			t.Errorf("%q encodes to unparsable %q: %v", s, body, err)
		}
	}
}

// synth builds an element with every member of s filled in (two items in
// every list, Quantity consistent).
func synth(name string, s *shape, n *int) *Element {
	*n++
	switch s.kind {
	case kindStructure:
		e := &Element{Name: name}
		for _, m := range s.members {
			e.Children = append(e.Children, synth(m.xml, m.shape, n))
		}
		if s.quantity != nil {
			q, it := e.Child(s.quantity.xml), e.Child(s.items.xml)
			q.Text = strconv.Itoa(len(it.Children))
		}
		return e
	case kindList:
		return NewParent(name, synth(s.elemName, s.elem, n), synth(s.elemName, s.elem, n))
	case kindInteger:
		return New(name, strconv.Itoa(*n))
	case kindLong:
		return New(name, strconv.Itoa(1<<40+*n))
	case kindBoolean:
		return New(name, strconv.FormatBool(*n%2 == 0))
	case kindTimestamp:
		return New(name, "2024-06-01T12:34:56.789Z")
	case kindDouble:
		return New(name, "12.5")
	}
	if s.enum != nil {
		return New(name, s.enum[*n%len(s.enum)])
	}
	return New(name, fmt.Sprintf("%s-%d <&>", name, *n))
}

// TestEveryShapeRoundTrips builds each root document with every member of
// every reachable shape and checks Decode accepts it and
// Normalize+Encode give it back unchanged.
func TestEveryShapeRoundTrips(t *testing.T) {
	for _, root := range []string{"DistributionConfig", "Distribution", "DistributionList", "DistributionConfigWithTags", "Tags", "TagKeys"} {
		t.Run(root, func(t *testing.T) {
			n := 0
			e := synth(root, shapeOf(root), &n)
			want := encode(e, true)
			d := decodeOK(t, []byte(want), root, root)
			Normalize(d, root)
			if got := encode(d, true); got != want {
				t.Errorf("round trip differs:\n%s\nwant\n%s", got, want)
			}
			t.Logf("%d elements", n)
		})
	}
}

func TestNormalizeBuiltDistribution(t *testing.T) {
	cfg := decodeOK(t, []byte(minimal), "DistributionConfig", "DistributionConfig")
	Normalize(cfg, "DistributionConfig")
	// Built out of order, as server code might.
	d := NewParent("Distribution",
		cfg,
		New("DomainName", "d111111abcdef8.cloudfront.net"),
		New("Id", "EDFDVBD6EXAMPLE"),
		New("Status", "InProgress"),
		New("ARN", "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"),
		New("LastModifiedTime", "2024-06-01T00:00:00.000Z"),
		New("InProgressInvalidationBatches", "0"),
		nil,
	)
	Normalize(d, "Distribution")
	var names []string
	for _, c := range d.Children {
		names = append(names, c.Name)
	}
	want := "Id ARN Status LastModifiedTime InProgressInvalidationBatches DomainName ActiveTrustedSigners ActiveTrustedKeyGroups DistributionConfig"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("Distribution children: %s\nwant %s", got, want)
	}
	out := encode(d, true)
	if !strings.HasPrefix(out, `<Distribution `+ns+`><Id>EDFDVBD6EXAMPLE</Id>`) ||
		!strings.Contains(out, `<ActiveTrustedSigners><Enabled>false</Enabled><Quantity>0</Quantity></ActiveTrustedSigners>`) ||
		!strings.Contains(out, `<DistributionConfig><CallerReference>ref-1</CallerReference>`) {
		t.Errorf("encoded Distribution: %s", out)
	}
	decodeOK(t, []byte(out), "Distribution", "Distribution")

	// Unknown children are kept, after the model's members.
	x := NewParent("Logging", New("Zzz", "1"), New("Prefix", "p/"))
	Normalize(x, "LoggingConfig")
	if got := encode(x, false); got != `<Logging><Enabled>false</Enabled><IncludeCookies>false</IncludeCookies><Bucket></Bucket><Prefix>p/</Prefix><Zzz>1</Zzz></Logging>` {
		t.Errorf("unknown child handling: %s", got)
	}
}

func TestElementHelpers(t *testing.T) {
	e := normalized(t)
	if v, ok := e.Value("DefaultCacheBehavior", "TargetOriginId"); !ok || v != "s3" {
		t.Errorf("Value = %q, %v", v, ok)
	}
	if _, ok := e.Value("DefaultCacheBehavior", "Nope"); ok {
		t.Error("Value of a missing path reports ok")
	}
	if b, ok := e.Bool("Enabled"); !ok || !b {
		t.Errorf("Bool(Enabled) = %v, %v", b, ok)
	}
	if b, ok := e.Bool("Logging", "Enabled"); !ok || b {
		t.Errorf("Bool(Logging.Enabled) = %v, %v", b, ok)
	}
	if _, ok := e.Bool("Comment"); ok {
		t.Error("Bool of a string reports ok")
	}
	if n, ok := e.Int64("DefaultCacheBehavior", "MaxTTL"); !ok || n != 31536000 {
		t.Errorf("Int64(MaxTTL) = %d, %v", n, ok)
	}
	if _, ok := e.Int64("CallerReference"); ok {
		t.Error("Int64 of a string reports ok")
	}
	if _, ok := e.Int64("Nope"); ok {
		t.Error("Int64 of a missing path reports ok")
	}
	origins := e.Items("Origins")
	if len(origins) != 1 || origins[0].Name != "Origin" {
		t.Fatalf("Items(Origins) = %v", origins)
	}
	if e.Items("Aliases") != nil || e.Items("Nope", "Deeper") != nil {
		t.Error("Items of an empty or missing list is not nil")
	}
	if e.Find() != e || e.Find("Nope", "Deeper") != nil {
		t.Error("Find")
	}
	var nilE *Element
	if nilE.Child("x") != nil || nilE.Find("x") != nil || nilE.Items("x") != nil || nilE.Clone() != nil {
		t.Error("nil receiver")
	}
	if _, ok := nilE.Value("x"); ok {
		t.Error("nil Value")
	}

	c := e.Clone()
	if encode(c, true) != encode(e, true) {
		t.Fatal("Clone differs")
	}
	c.Items("Origins")[0].Child("Id").Text = "changed"
	c.Child("Comment").Text = "changed"
	if v, _ := e.Value("Comment"); v != "" {
		t.Error("Clone shares elements")
	}
	if origins[0].Child("Id").Text != "s3" {
		t.Error("Clone shares list items")
	}

	p := NewParent("Tags", nil, NewParent("Items", NewParent("Tag", New("Key", "k"), New("Value", "v"))))
	if got := encode(p, true); got != `<Tags `+ns+`><Items><Tag><Key>k</Key><Value>v</Value></Tag></Items></Tags>` {
		t.Errorf("NewParent encode: %s", got)
	}
	decodeOK(t, []byte(encode(p, true)), "Tags", "Tags")
	if !HasShape("DistributionConfig") || HasShape("NoSuchShape") {
		t.Error("HasShape")
	}
}

func TestDefaultsTable(t *testing.T) {
	// Only Comment, which Decode already requires, may have a default for
	// a required member: CloudFront cannot fill what it insists on.
	for _, f := range defaults {
		s := shapeOf(f.shape)
		for _, m := range s.members {
			if m.name == f.member && m.required && !(f.shape == "DistributionConfig" && f.member == "Comment") {
				t.Errorf("default for required member %s.%s", f.shape, f.member)
			}
		}
	}
	// Every default, applied to an element that lacks everything, yields
	// something Decode accepts: nothing the table holds breaks the model.
	for _, root := range []string{"LoggingConfig", "ViewerCertificate", "Origin", "CustomOriginConfig", "VpcOriginConfig", "ForwardedValues"} {
		e := &Element{Name: root}
		Normalize(e, root)
		out := encode(e, false)
		if _, err := Decode([]byte(out), root, root); err != nil && !strings.Contains(err.Error(), "is required") {
			t.Errorf("%s defaults: %s: %v", root, out, err)
		}
	}
}

func TestUnknownShapePanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Decode":    func() { _, _ = Decode([]byte("<a/>"), "a", "NoSuchShape") },
		"Normalize": func() { Normalize(&Element{Name: "a"}, "NoSuchShape") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with an unknown shape did not panic", name)
				}
			}()
			f()
		}()
	}
}

// FuzzDecode: Decode never panics; whatever it accepts normalizes,
// encodes and decodes again to the same document.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add(readFixture(f, "full.xml"))
	f.Add([]byte(""))
	f.Add([]byte("<DistributionConfig><Aliases><Quantity>1</Quantity><Items><CNAME>a</CNAME></Items></Aliases></DistributionConfig>"))
	f.Add([]byte(`<?xml version="1.0"?><DistributionConfig xmlns="x"><Comment>&amp;&#xD;</Comment></DistributionConfig>`))
	f.Add([]byte("<DistributionConfig><Enabled>true</Enabled><Enabled>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Decode(body, "DistributionConfig", "DistributionConfig")
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) || xe.Code == "" || xe.Message == "" {
				t.Fatalf("error %v is not a CloudFront *Error", err)
			}
			if e != nil {
				t.Fatal("element returned with an error")
			}
			return
		}
		Normalize(e, "DistributionConfig")
		out := encode(e, true)
		d, err := Decode([]byte(out), "DistributionConfig", "DistributionConfig")
		if err != nil {
			t.Fatalf("normalized output does not decode: %v\ninput: %q\noutput: %s", err, body, out)
		}
		Normalize(d, "DistributionConfig")
		if out2 := encode(d, true); out2 != out {
			t.Fatalf("not idempotent:\n%s\n%s", out, out2)
		}
	})
}

func TestErrorStatusFromModel(t *testing.T) {
	for code, want := range map[string]int{"NoSuchCachePolicy": 404, "CachePolicyInUse": 409, "PreconditionFailed": 412, "CachePolicyAlreadyExists": 409} {
		if got, ok := ErrorStatus(code); !ok || got != want {
			t.Errorf("ErrorStatus(%s) = %d, %v; want %d", code, got, ok, want)
		}
	}
	if _, ok := ErrorStatus("NoSuchThing"); ok {
		t.Error("ErrorStatus knows a code the model does not define")
	}
}
