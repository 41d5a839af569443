package cloudfront

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/policy"
)

// decodeDistributionConfig validates a DistributionConfig document and
// returns its typed form and its canonical bytes (normalized, defaults
// filled, no namespace) to store and send back.
func decodeDistributionConfig(e *xmlmodel.Element) (ref string, cfg distribution.Config, raw []byte, err error) {
	xmlmodel.Normalize(e, "DistributionConfig")
	// With the default certificate CloudFront sets TLSv1 "regardless of the
	// value that you set" (the service model's words).
	if vc := e.Find("ViewerCertificate"); vc != nil {
		if def, _ := vc.Bool("CloudFrontDefaultCertificate"); def {
			if mpv := vc.Child("MinimumProtocolVersion"); mpv != nil {
				mpv.Text = "TLSv1"
			}
		}
	}
	cfg, err = typedConfig(e)
	if err != nil {
		return "", cfg, nil, err
	}
	ref, _ = e.Value("CallerReference")
	var b strings.Builder
	xmlmodel.Encode(&b, e, false)
	return ref, cfg, []byte(b.String()), nil
}

// typedConfig extracts what openfront acts on.
func typedConfig(e *xmlmodel.Element) (distribution.Config, error) {
	var c distribution.Config
	c.Enabled, _ = e.Bool("Enabled")
	c.Comment, _ = e.Value("Comment")
	c.DefaultRootObject, _ = e.Value("DefaultRootObject")
	for _, a := range e.Items("Aliases") {
		c.Aliases = append(c.Aliases, a.Text)
	}
	for _, o := range e.Items("Origins") {
		origin, err := typedOrigin(o)
		if err != nil {
			return c, err
		}
		c.Origins = append(c.Origins, origin)
	}
	for _, g := range e.Items("OriginGroups") {
		var og distribution.OriginGroup
		og.ID, _ = g.Value("Id")
		for _, m := range g.Items("Members") {
			id, _ := m.Value("OriginId")
			og.Members = append(og.Members, id)
		}
		for _, code := range g.Items("FailoverCriteria", "StatusCodes") {
			if n, err := strconv.Atoi(code.Text); err == nil {
				og.FailoverStatusCodes = append(og.FailoverStatusCodes, n)
			}
		}
		c.OriginGroups = append(c.OriginGroups, og)
	}
	var err error
	if c.DefaultBehavior, err = typedBehavior(e.Find("DefaultCacheBehavior")); err != nil {
		return c, err
	}
	for _, b := range e.Items("CacheBehaviors") {
		cb, err := typedBehavior(b)
		if err != nil {
			return c, err
		}
		c.Behaviors = append(c.Behaviors, cb)
	}
	if l := e.Find("Logging"); l != nil {
		c.Logging.Enabled, _ = l.Bool("Enabled")
		c.Logging.IncludeCookies, _ = l.Bool("IncludeCookies")
		c.Logging.Bucket, _ = l.Value("Bucket")
		c.Logging.Prefix, _ = l.Value("Prefix")
	}
	for _, r := range e.Items("CustomErrorResponses") {
		code, _ := r.Int64("ErrorCode")
		er := distribution.ErrorResponse{ErrorCode: int(code), ErrorCachingMinTTL: 10}
		er.ResponsePagePath, _ = r.Value("ResponsePagePath")
		er.ResponseCode, _ = r.Value("ResponseCode")
		if ttl, ok := r.Int64("ErrorCachingMinTTL"); ok {
			er.ErrorCachingMinTTL = ttl
		}
		c.CustomErrorResponses = append(c.CustomErrorResponses, er)
	}
	return c, nil
}

func typedOrigin(o *xmlmodel.Element) (distribution.Origin, error) {
	var out distribution.Origin
	out.ID, _ = o.Value("Id")
	out.DomainName, _ = o.Value("DomainName")
	out.OriginPath, _ = o.Value("OriginPath")
	out.OriginAccessControlID, _ = o.Value("OriginAccessControlId")
	if oai, _ := o.Value("S3OriginConfig", "OriginAccessIdentity"); oai != "" && out.OriginAccessControlID != "" {
		return out, &apiError{http.StatusBadRequest, codeIllegalOriginAccessConfiguration,
			"An origin cannot contain both an origin access control (OAC) and an origin access identity (OAI)."}
	}
	for _, h := range o.Items("CustomHeaders") {
		n, _ := h.Value("HeaderName")
		v, _ := h.Value("HeaderValue")
		out.CustomHeaders = append(out.CustomHeaders, distribution.Header{Name: n, Value: v})
	}
	out.ConnectionAttempts = 3
	if n, ok := o.Int64("ConnectionAttempts"); ok {
		out.ConnectionAttempts = int(n)
	}
	out.ConnectionTimeout = 10 * time.Second
	if n, ok := o.Int64("ConnectionTimeout"); ok {
		out.ConnectionTimeout = time.Duration(n) * time.Second
	}
	out.ReadTimeout, out.KeepaliveTimeout = 30*time.Second, 5*time.Second
	out.HTTPPort, out.HTTPSPort = 80, 443
	if co := o.Find("CustomOriginConfig"); co != nil {
		out.ProtocolPolicy, _ = co.Value("OriginProtocolPolicy")
		if n, ok := co.Int64("HTTPPort"); ok {
			out.HTTPPort = int(n)
		}
		if n, ok := co.Int64("HTTPSPort"); ok {
			out.HTTPSPort = int(n)
		}
		if n, ok := co.Int64("OriginReadTimeout"); ok {
			out.ReadTimeout = time.Duration(n) * time.Second
		}
		if n, ok := co.Int64("OriginKeepaliveTimeout"); ok {
			out.KeepaliveTimeout = time.Duration(n) * time.Second
		}
	} else {
		// S3 (and other non-custom) origins are fetched over HTTPS.
		out.S3 = true
		out.ProtocolPolicy = "https-only"
	}
	return out, nil
}

// codeIllegalOriginAccessConfiguration is CloudFront's error for an
// origin with both an origin access control and an origin access
// identity (the service model's words are its message).
const codeIllegalOriginAccessConfiguration = "IllegalOriginAccessConfiguration"

func typedBehavior(b *xmlmodel.Element) (distribution.CacheBehavior, error) {
	var out distribution.CacheBehavior
	if b == nil {
		return out, invalidArgument("The parameter DefaultCacheBehavior is required.")
	}
	out.PathPattern, _ = b.Value("PathPattern")
	out.TargetOriginID, _ = b.Value("TargetOriginId")
	out.ViewerProtocolPolicy, _ = b.Value("ViewerProtocolPolicy")
	out.Compress, _ = b.Bool("Compress")
	out.AllowedMethods = []string{"HEAD", "GET"}
	out.CachedMethods = []string{"HEAD", "GET"}
	if am := b.Find("AllowedMethods"); am != nil {
		out.AllowedMethods = texts(am.Items())
		if cm := am.Find("CachedMethods"); cm != nil {
			out.CachedMethods = texts(cm.Items())
		}
	}
	out.CachePolicyID, _ = b.Value("CachePolicyId")
	out.OriginRequestPolicyID, _ = b.Value("OriginRequestPolicyId")
	out.ResponseHeadersPolicyID, _ = b.Value("ResponseHeadersPolicyId")
	for _, fa := range b.Items("FunctionAssociations") {
		var a distribution.FunctionAssociation
		a.EventType, _ = fa.Value("EventType")
		a.FunctionARN, _ = fa.Value("FunctionARN")
		out.FunctionAssociations = append(out.FunctionAssociations, a)
	}
	if on, _ := b.Bool("TrustedKeyGroups", "Enabled"); on {
		out.TrustedKeyGroups = texts(b.Items("TrustedKeyGroups"))
	}
	if on, _ := b.Bool("TrustedSigners", "Enabled"); on {
		out.TrustedSigners = texts(b.Items("TrustedSigners"))
	}
	fv := b.Find("ForwardedValues")
	switch {
	case out.CachePolicyID != "" && fv != nil:
		return out, invalidArgument("The parameter ForwardedValues cannot be used when a cache policy is associated to the cache behavior.")
	case out.CachePolicyID != "":
		for _, ttl := range []string{"MinTTL", "DefaultTTL", "MaxTTL"} {
			if b.Find(ttl) != nil {
				return out, invalidArgument("The parameter " + ttl + " cannot be used when a cache policy is associated to the cache behavior.")
			}
		}
		policyTTLs(&out)
	case fv != nil:
		if out.OriginRequestPolicyID != "" {
			return out, invalidArgument("The parameter OriginRequestPolicyId cannot be used when no cache policy is associated to the cache behavior.")
		}
		out.MinTTL, out.DefaultTTL, out.MaxTTL = 0, 86400, 31536000
		if n, ok := b.Int64("MinTTL"); ok {
			out.MinTTL = n
		}
		if n, ok := b.Int64("DefaultTTL"); ok {
			out.DefaultTTL = n
		}
		if n, ok := b.Int64("MaxTTL"); ok {
			out.MaxTTL = n
		}
		out.ForwardQueryString, _ = fv.Bool("QueryString")
		for _, k := range fv.Items("QueryStringCacheKeys") {
			out.QueryStringCacheKeys = append(out.QueryStringCacheKeys, k.Text)
		}
		out.ForwardedHeaders = texts(fv.Items("Headers"))
		out.ForwardCookies, _ = fv.Value("Cookies", "Forward")
		out.CookieNames = texts(fv.Items("Cookies", "WhitelistedNames"))
	default:
		return out, invalidArgument("The parameter ForwardedValues is required.")
	}
	return out, nil
}

// policyTTLs fills a behavior's TTLs and query-string key from its cache
// policy when that is a managed one (edges act on the typed fields of the
// legacy settings). Edges take a custom policy's settings, and the
// headers and cookies of any policy, from the policy itself; meanwhile a
// custom policy's behavior has CachingOptimized's TTLs.
func policyTTLs(b *distribution.CacheBehavior) {
	p, ok := policy.ManagedCachePolicy(b.CachePolicyID)
	if !ok {
		p, _ = policy.ManagedCachePolicy(policy.CachingOptimizedID)
		p.QueryStrings = policy.Selection{Behavior: policy.None}
	}
	b.MinTTL, b.DefaultTTL, b.MaxTTL = p.MinTTL, p.DefaultTTL, p.MaxTTL
	switch p.QueryStrings.Behavior {
	case policy.All:
		b.ForwardQueryString = true
	case policy.Whitelist:
		b.ForwardQueryString = true
		b.QueryStringCacheKeys = p.QueryStrings.Names
	}
}

func texts(es []*xmlmodel.Element) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Text)
	}
	return out
}

// fileDistributionConfig builds the DistributionConfig document of a
// distribution declared in the configuration file.
func fileDistributionConfig(d *distribution.Distribution) []byte {
	n, p := xmlmodel.New, xmlmodel.NewParent
	c := d.Config
	o := c.Origins[0]
	aliases := p("Aliases", n("Quantity", strconv.Itoa(len(c.Aliases))))
	if len(c.Aliases) > 0 {
		items := p("Items")
		for _, a := range c.Aliases {
			items.Children = append(items.Children, n("CNAME", a))
		}
		aliases.Children = append(aliases.Children, items)
	}
	methods := func(name string, ms []string, extra ...*xmlmodel.Element) *xmlmodel.Element {
		items := p("Items")
		for _, m := range ms {
			items.Children = append(items.Children, n("Method", m))
		}
		return p(name, append([]*xmlmodel.Element{n("Quantity", strconv.Itoa(len(ms))), items}, extra...)...)
	}
	b := c.DefaultBehavior
	e := p("DistributionConfig",
		n("CallerReference", d.CallerReference),
		aliases,
		n("DefaultRootObject", c.DefaultRootObject),
		p("Origins", n("Quantity", "1"), p("Items", p("Origin",
			n("Id", o.ID),
			n("DomainName", o.DomainName),
			n("OriginPath", o.OriginPath),
			p("CustomOriginConfig",
				n("HTTPPort", strconv.Itoa(o.HTTPPort)),
				n("HTTPSPort", strconv.Itoa(o.HTTPSPort)),
				n("OriginProtocolPolicy", o.ProtocolPolicy),
			),
		))),
		p("DefaultCacheBehavior",
			n("TargetOriginId", b.TargetOriginID),
			n("ViewerProtocolPolicy", b.ViewerProtocolPolicy),
			methods("AllowedMethods", b.AllowedMethods, methods("CachedMethods", b.CachedMethods)),
			p("ForwardedValues",
				n("QueryString", strconv.FormatBool(b.ForwardQueryString)),
				p("Cookies", n("Forward", b.ForwardCookies)),
			),
			n("MinTTL", strconv.FormatInt(b.MinTTL, 10)),
			n("DefaultTTL", strconv.FormatInt(b.DefaultTTL, 10)),
			n("MaxTTL", strconv.FormatInt(b.MaxTTL, 10)),
		),
		n("Comment", c.Comment),
		n("Enabled", strconv.FormatBool(c.Enabled)),
	)
	xmlmodel.Normalize(e, "DistributionConfig")
	var sb strings.Builder
	xmlmodel.Encode(&sb, e, false)
	return []byte(sb.String())
}

// ifMatch returns the If-Match header without quotes some clients add.
func ifMatch(r *http.Request) string {
	return strings.Trim(r.Header.Get("If-Match"), `"`)
}
