package cloudfront

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// The policies' kinds: cache, origin request and response headers
// policies.
var (
	cachePolicyAPI = &kindAPI{
		kind: resource.CachePolicy, base: "/2020-05-31/cache-policy", arn: "cache-policy",
		name: "CachePolicy", plural: "CachePolicies",
		config: "CachePolicyConfig", doc: "CachePolicy", list: "CachePolicyList",
		typed: true, decode: decodeCachePolicy, head: lastModified,
		ops: [6]Operation{OpCreateCachePolicy, OpGetCachePolicy, OpGetCachePolicyConfig, OpUpdateCachePolicy, OpDeleteCachePolicy, OpListCachePolicies},
	}
	originRequestPolicyAPI = &kindAPI{
		kind: resource.OriginRequestPolicy, base: "/2020-05-31/origin-request-policy", arn: "origin-request-policy",
		name: "OriginRequestPolicy", plural: "OriginRequestPolicies",
		config: "OriginRequestPolicyConfig", doc: "OriginRequestPolicy", list: "OriginRequestPolicyList",
		typed: true, decode: decodeOriginRequestPolicy, head: lastModified,
		ops: [6]Operation{OpCreateOriginRequestPolicy, OpGetOriginRequestPolicy, OpGetOriginRequestPolicyConfig, OpUpdateOriginRequestPolicy, OpDeleteOriginRequestPolicy, OpListOriginRequestPolicies},
	}
	responseHeadersPolicyAPI = &kindAPI{
		kind: resource.ResponseHeadersPolicy, base: "/2020-05-31/response-headers-policy", arn: "response-headers-policy",
		name: "ResponseHeadersPolicy", plural: "ResponseHeadersPolicies",
		config: "ResponseHeadersPolicyConfig", doc: "ResponseHeadersPolicy", list: "ResponseHeadersPolicyList",
		typed: true, decode: decodeResponseHeadersPolicy, head: lastModified,
		ops: [6]Operation{OpCreateResponseHeadersPolicy, OpGetResponseHeadersPolicy, OpGetResponseHeadersPolicyConfig, OpUpdateResponseHeadersPolicy, OpDeleteResponseHeadersPolicy, OpListResponseHeadersPolicies},
	}
)

func init() {
	for _, a := range []*kindAPI{cachePolicyAPI, originRequestPolicyAPI, responseHeadersPolicyAPI} {
		kindAPIs[a.kind] = a
	}
}

// PolicyRules are the rules resource.Service applies to each policy kind:
// CloudFront's error codes and messages, UUID Ids, and the account's
// quota (20 of each kind, not counting the managed ones).
func PolicyRules(kind resource.Kind) resource.Rules {
	r := resource.Rules{Kind: kind, Max: 20, NewID: resource.UUID}
	switch kind {
	case resource.CachePolicy:
		r.NoSuch, r.NoSuchMessage = "NoSuchCachePolicy", "The cache policy does not exist."
		r.AlreadyExists, r.AlreadyExistsMessage = "CachePolicyAlreadyExists", "A cache policy with this name already exists. You must provide a unique name. To modify an existing cache policy, use UpdateCachePolicy."
		r.InUse, r.InUseMessage = "CachePolicyInUse", "Cannot delete the cache policy because it is attached to one or more cache behaviors."
		r.TooMany, r.TooManyMessage = "TooManyCachePolicies", "You have reached the maximum number of cache policies for this AWS account."
	case resource.OriginRequestPolicy:
		r.NoSuch, r.NoSuchMessage = "NoSuchOriginRequestPolicy", "The origin request policy does not exist."
		r.AlreadyExists, r.AlreadyExistsMessage = "OriginRequestPolicyAlreadyExists", "An origin request policy with this name already exists. You must provide a unique name. To modify an existing origin request policy, use UpdateOriginRequestPolicy."
		r.InUse, r.InUseMessage = "OriginRequestPolicyInUse", "Cannot delete the origin request policy because it is attached to one or more cache behaviors."
		r.TooMany, r.TooManyMessage = "TooManyOriginRequestPolicies", "You have reached the maximum number of origin request policies for this AWS account."
	case resource.ResponseHeadersPolicy:
		r.NoSuch, r.NoSuchMessage = "NoSuchResponseHeadersPolicy", "The response headers policy does not exist."
		r.AlreadyExists, r.AlreadyExistsMessage = "ResponseHeadersPolicyAlreadyExists", "A response headers policy with this name already exists. You must provide a unique name. To modify an existing response headers policy, use UpdateResponseHeadersPolicy."
		r.InUse, r.InUseMessage = "ResponseHeadersPolicyInUse", "Cannot delete the response headers policy because it is attached to one or more cache behaviors."
		r.TooMany, r.TooManyMessage = "TooManyResponseHeadersPolicies", "You have reached the maximum number of response headers policies for this AWS account."
	}
	return r
}

// routePolicies registers the policies' operations.
func (h *Handler) routePolicies(m *http.ServeMux) {
	h.routeKind(m, cachePolicyAPI)
	h.routeKind(m, originRequestPolicyAPI)
	h.routeKind(m, responseHeadersPolicyAPI)
}

// selection reads a HeadersConfig, CookiesConfig or QueryStringsConfig.
func selection(e *xmlmodel.Element, behavior, list string) policy.Selection {
	s := policy.Selection{}
	s.Behavior, _ = e.Value(behavior)
	for _, n := range e.Items(list) {
		s.Names = append(s.Names, n.Text)
	}
	return s
}

// selectionElement is the inverse of selection.
func selectionElement(name, behavior, list string, s policy.Selection) *xmlmodel.Element {
	return xmlmodel.NewParent(name, xmlmodel.New(behavior, s.Behavior), quantityItems(list, "Name", s.Names))
}

// quantityItems is a <name><Quantity/><Items/></name> of text items;
// Items is left out when empty, as CloudFront sends it.
func quantityItems(name, item string, texts []string) *xmlmodel.Element {
	e := xmlmodel.NewParent(name, xmlmodel.New("Quantity", strconv.Itoa(len(texts))))
	if len(texts) > 0 {
		items := xmlmodel.NewParent("Items")
		for _, t := range texts {
			items.Children = append(items.Children, xmlmodel.New(item, t))
		}
		e.Children = append(e.Children, items)
	}
	return e
}

func required(path string) error {
	return invalidArgument("The parameter " + path + " is required.")
}

func typedJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs always marshal
	}
	return b
}

// decodeCachePolicy reads a CachePolicyConfig, fills the TTLs CloudFront
// fills (DefaultTTL, MaxTTL) and validates it.
func decodeCachePolicy(e *xmlmodel.Element, _ *resource.Resource, check bool) (string, []byte, error) {
	var p policy.CachePolicy
	p.Name, _ = e.Value("Name")
	p.Comment, _ = e.Value("Comment")
	p.MinTTL, _ = e.Int64("MinTTL")
	var hasDefault, hasMax bool
	p.DefaultTTL, hasDefault = e.Int64("DefaultTTL")
	p.MaxTTL, hasMax = e.Int64("MaxTTL")
	p.FillTTLDefaults(hasDefault, hasMax)
	if !hasDefault {
		e.Children = append(e.Children, xmlmodel.New("DefaultTTL", strconv.FormatInt(p.DefaultTTL, 10)))
	}
	if !hasMax {
		e.Children = append(e.Children, xmlmodel.New("MaxTTL", strconv.FormatInt(p.MaxTTL, 10)))
	}
	k := e.Child("ParametersInCacheKeyAndForwardedToOrigin")
	if k == nil {
		return "", nil, required("CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin")
	}
	p.AcceptEncodingGzip, _ = k.Bool("EnableAcceptEncodingGzip")
	p.AcceptEncodingBrotli, _ = k.Bool("EnableAcceptEncodingBrotli")
	p.Headers = selection(k.Child("HeadersConfig"), "HeaderBehavior", "Headers")
	p.Cookies = selection(k.Child("CookiesConfig"), "CookieBehavior", "Cookies")
	p.QueryStrings = selection(k.Child("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings")
	if err := p.Validate(policy.DefaultLimits); check && err != nil {
		return "", nil, err
	}
	return p.Name, typedJSON(p), nil
}

// CachePolicyDocument is the CachePolicyConfig document of a typed cache
// policy (for the managed policies).
func CachePolicyDocument(p *policy.CachePolicy) *xmlmodel.Element {
	n, par := xmlmodel.New, xmlmodel.NewParent
	e := par("CachePolicyConfig",
		n("Comment", p.Comment),
		n("Name", p.Name),
		n("DefaultTTL", strconv.FormatInt(p.DefaultTTL, 10)),
		n("MaxTTL", strconv.FormatInt(p.MaxTTL, 10)),
		n("MinTTL", strconv.FormatInt(p.MinTTL, 10)),
		par("ParametersInCacheKeyAndForwardedToOrigin",
			n("EnableAcceptEncodingGzip", strconv.FormatBool(p.AcceptEncodingGzip)),
			n("EnableAcceptEncodingBrotli", strconv.FormatBool(p.AcceptEncodingBrotli)),
			selectionElement("HeadersConfig", "HeaderBehavior", "Headers", p.Headers),
			selectionElement("CookiesConfig", "CookieBehavior", "Cookies", p.Cookies),
			selectionElement("QueryStringsConfig", "QueryStringBehavior", "QueryStrings", p.QueryStrings),
		))
	xmlmodel.Normalize(e, "CachePolicyConfig")
	return e
}

// decodeOriginRequestPolicy reads and validates an
// OriginRequestPolicyConfig.
func decodeOriginRequestPolicy(e *xmlmodel.Element, _ *resource.Resource, check bool) (string, []byte, error) {
	var p policy.OriginRequestPolicy
	p.Name, _ = e.Value("Name")
	p.Comment, _ = e.Value("Comment")
	p.Headers = selection(e.Child("HeadersConfig"), "HeaderBehavior", "Headers")
	p.Cookies = selection(e.Child("CookiesConfig"), "CookieBehavior", "Cookies")
	p.QueryStrings = selection(e.Child("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings")
	if err := p.Validate(policy.DefaultLimits); check && err != nil {
		return "", nil, err
	}
	return p.Name, typedJSON(p), nil
}

// OriginRequestPolicyDocument is the OriginRequestPolicyConfig document
// of a typed origin request policy (for the managed policies).
func OriginRequestPolicyDocument(p *policy.OriginRequestPolicy) *xmlmodel.Element {
	e := xmlmodel.NewParent("OriginRequestPolicyConfig",
		xmlmodel.New("Comment", p.Comment),
		xmlmodel.New("Name", p.Name),
		selectionElement("HeadersConfig", "HeaderBehavior", "Headers", p.Headers),
		selectionElement("CookiesConfig", "CookieBehavior", "Cookies", p.Cookies),
		selectionElement("QueryStringsConfig", "QueryStringBehavior", "QueryStrings", p.QueryStrings),
	)
	xmlmodel.Normalize(e, "OriginRequestPolicyConfig")
	return e
}

// decodeResponseHeadersPolicy reads and validates a
// ResponseHeadersPolicyConfig.
func decodeResponseHeadersPolicy(e *xmlmodel.Element, _ *resource.Resource, check bool) (string, []byte, error) {
	var p policy.ResponseHeadersPolicy
	p.Name, _ = e.Value("Name")
	p.Comment, _ = e.Value("Comment")
	if c := e.Child("CorsConfig"); c != nil {
		cors := &policy.CORS{MaxAgeSec: -1}
		cors.AllowOrigins = texts(c.Items("AccessControlAllowOrigins"))
		cors.AllowHeaders = texts(c.Items("AccessControlAllowHeaders"))
		cors.AllowMethods = texts(c.Items("AccessControlAllowMethods"))
		cors.AllowCredentials, _ = c.Bool("AccessControlAllowCredentials")
		if x := c.Child("AccessControlExposeHeaders"); x != nil {
			cors.ExposeHeaders = texts(x.Items())
		}
		if n, ok := c.Int64("AccessControlMaxAgeSec"); ok {
			if n < 0 {
				return "", nil, invalidArgument("AccessControlMaxAgeSec cannot be negative.")
			}
			cors.MaxAgeSec = int(n)
		}
		cors.OriginOverride, _ = c.Bool("OriginOverride")
		p.CORS = cors
	}
	if s := e.Child("SecurityHeadersConfig"); s != nil {
		sec := &policy.SecurityHeaders{}
		if x := s.Child("XSSProtection"); x != nil {
			v := &policy.XSSProtection{}
			v.Override, _ = x.Bool("Override")
			v.Protection, _ = x.Bool("Protection")
			v.ModeBlock, _ = x.Bool("ModeBlock")
			v.ReportURI, _ = x.Value("ReportUri")
			sec.XSSProtection = v
		}
		if x := s.Child("FrameOptions"); x != nil {
			v := &policy.FrameOptions{}
			v.Override, _ = x.Bool("Override")
			v.FrameOption, _ = x.Value("FrameOption")
			sec.FrameOptions = v
		}
		if x := s.Child("ReferrerPolicy"); x != nil {
			v := &policy.ReferrerPolicy{}
			v.Override, _ = x.Bool("Override")
			v.ReferrerPolicy, _ = x.Value("ReferrerPolicy")
			sec.ReferrerPolicy = v
		}
		if x := s.Child("ContentSecurityPolicy"); x != nil {
			v := &policy.ContentSecurityPolicy{}
			v.Override, _ = x.Bool("Override")
			v.ContentSecurityPolicy, _ = x.Value("ContentSecurityPolicy")
			sec.ContentSecurityPolicy = v
		}
		if x := s.Child("ContentTypeOptions"); x != nil {
			v := &policy.ContentTypeOptions{}
			v.Override, _ = x.Bool("Override")
			sec.ContentTypeOptions = v
		}
		if x := s.Child("StrictTransportSecurity"); x != nil {
			v := &policy.StrictTransportSecurity{}
			v.Override, _ = x.Bool("Override")
			v.IncludeSubdomains, _ = x.Bool("IncludeSubdomains")
			v.Preload, _ = x.Bool("Preload")
			n, _ := x.Int64("AccessControlMaxAgeSec")
			v.MaxAgeSec = int(n)
			sec.StrictTransportSecurity = v
		}
		p.Security = sec
	}
	if t := e.Child("ServerTimingHeadersConfig"); t != nil {
		st := &policy.ServerTiming{}
		st.Enabled, _ = t.Bool("Enabled")
		if s, ok := t.Value("SamplingRate"); ok {
			st.SamplingRate, _ = strconv.ParseFloat(s, 64) // Decode checked it
		} else if st.Enabled {
			return "", nil, required("ResponseHeadersPolicyConfig.ServerTimingHeadersConfig.SamplingRate")
		}
		p.ServerTiming = st
	}
	if c := e.Child("CustomHeadersConfig"); c != nil {
		p.CustomHeaders = []policy.CustomHeader{}
		for _, h := range c.Items() {
			var ch policy.CustomHeader
			ch.Header, _ = h.Value("Header")
			ch.Value, _ = h.Value("Value")
			ch.Override, _ = h.Bool("Override")
			p.CustomHeaders = append(p.CustomHeaders, ch)
		}
	}
	if c := e.Child("RemoveHeadersConfig"); c != nil {
		p.RemoveHeaders = []string{}
		for _, h := range c.Items() {
			v, _ := h.Value("Header")
			p.RemoveHeaders = append(p.RemoveHeaders, v)
		}
	}
	if err := p.Validate(policy.DefaultLimits); check && err != nil {
		return "", nil, err
	}
	return p.Name, typedJSON(p), nil
}

// ResponseHeadersPolicyDocument is the ResponseHeadersPolicyConfig
// document of a typed response headers policy (for the managed
// policies).
func ResponseHeadersPolicyDocument(p *policy.ResponseHeadersPolicy) *xmlmodel.Element {
	n, par := xmlmodel.New, xmlmodel.NewParent
	b := strconv.FormatBool
	e := par("ResponseHeadersPolicyConfig", n("Comment", p.Comment), n("Name", p.Name))
	if c := p.CORS; c != nil {
		cors := par("CorsConfig",
			quantityItems("AccessControlAllowOrigins", "Origin", c.AllowOrigins),
			quantityItems("AccessControlAllowHeaders", "Header", c.AllowHeaders),
			quantityItems("AccessControlAllowMethods", "Method", c.AllowMethods),
			n("AccessControlAllowCredentials", b(c.AllowCredentials)),
			n("OriginOverride", b(c.OriginOverride)),
		)
		if len(c.ExposeHeaders) > 0 {
			cors.Children = append(cors.Children, quantityItems("AccessControlExposeHeaders", "Header", c.ExposeHeaders))
		}
		if c.MaxAgeSec >= 0 {
			cors.Children = append(cors.Children, n("AccessControlMaxAgeSec", strconv.Itoa(c.MaxAgeSec)))
		}
		e.Children = append(e.Children, cors)
	}
	if s := p.Security; s != nil {
		sec := par("SecurityHeadersConfig")
		if x := s.XSSProtection; x != nil {
			xe := par("XSSProtection", n("Override", b(x.Override)), n("Protection", b(x.Protection)))
			if x.ModeBlock {
				xe.Children = append(xe.Children, n("ModeBlock", "true"))
			}
			if x.ReportURI != "" {
				xe.Children = append(xe.Children, n("ReportUri", x.ReportURI))
			}
			sec.Children = append(sec.Children, xe)
		}
		if x := s.FrameOptions; x != nil {
			sec.Children = append(sec.Children, par("FrameOptions", n("Override", b(x.Override)), n("FrameOption", x.FrameOption)))
		}
		if x := s.ReferrerPolicy; x != nil {
			sec.Children = append(sec.Children, par("ReferrerPolicy", n("Override", b(x.Override)), n("ReferrerPolicy", x.ReferrerPolicy)))
		}
		if x := s.ContentSecurityPolicy; x != nil {
			sec.Children = append(sec.Children, par("ContentSecurityPolicy", n("Override", b(x.Override)), n("ContentSecurityPolicy", x.ContentSecurityPolicy)))
		}
		if x := s.ContentTypeOptions; x != nil {
			sec.Children = append(sec.Children, par("ContentTypeOptions", n("Override", b(x.Override))))
		}
		if x := s.StrictTransportSecurity; x != nil {
			sec.Children = append(sec.Children, par("StrictTransportSecurity", n("Override", b(x.Override)),
				n("IncludeSubdomains", b(x.IncludeSubdomains)), n("Preload", b(x.Preload)),
				n("AccessControlMaxAgeSec", strconv.Itoa(x.MaxAgeSec))))
		}
		e.Children = append(e.Children, sec)
	}
	if t := p.ServerTiming; t != nil {
		e.Children = append(e.Children, par("ServerTimingHeadersConfig", n("Enabled", b(t.Enabled)),
			n("SamplingRate", strconv.FormatFloat(t.SamplingRate, 'f', -1, 64))))
	}
	if p.CustomHeaders != nil {
		c := par("CustomHeadersConfig", n("Quantity", strconv.Itoa(len(p.CustomHeaders))))
		if len(p.CustomHeaders) > 0 {
			items := par("Items")
			for _, h := range p.CustomHeaders {
				items.Children = append(items.Children, par("ResponseHeadersPolicyCustomHeader",
					n("Header", h.Header), n("Value", h.Value), n("Override", b(h.Override))))
			}
			c.Children = append(c.Children, items)
		}
		e.Children = append(e.Children, c)
	}
	if p.RemoveHeaders != nil {
		c := par("RemoveHeadersConfig", n("Quantity", strconv.Itoa(len(p.RemoveHeaders))))
		if len(p.RemoveHeaders) > 0 {
			items := par("Items")
			for _, h := range p.RemoveHeaders {
				items.Children = append(items.Children, par("ResponseHeadersPolicyRemoveHeader", n("Header", h)))
			}
			c.Children = append(c.Children, items)
		}
		e.Children = append(e.Children, c)
	}
	xmlmodel.Normalize(e, "ResponseHeadersPolicyConfig")
	return e
}
