// Package distribution holds CloudFront distributions: their typed
// configuration (what openfront acts on), identity, status and the rules of
// creating, updating and deleting them. Distributions come from the
// configuration file and from the distribution API. It knows nothing of
// HTTP or XML: the configuration's full document travels as opaque bytes.
package distribution

import (
	"net/url"
	"time"

	"github.com/openfront/openfront/internal/resource"
)

// Status values CloudFront reports for a distribution.
const (
	InProgress = "InProgress"
	Deployed   = "Deployed"
)

// Distribution is one CloudFront distribution.
type Distribution struct {
	ID  string `json:"id"`
	ARN string `json:"arn"`
	// Domain is the distribution's own host name, d + 13 characters +
	// "." + the domain suffix, as CloudFront's d111111abcdef8.cloudfront.net.
	Domain string `json:"domain"`
	// ETag is the version of the configuration, new on every change.
	ETag         string    `json:"etag"`
	Status       string    `json:"status"`
	LastModified time.Time `json:"modified"`
	// CallerReference is the create request's, unique per account.
	CallerReference string `json:"ref"`
	Config          Config `json:"config"`
	// RawConfig is the whole DistributionConfig document as the protocol
	// layer will send it back (every element the client sent, in the
	// model's order, with defaults filled); opaque here.
	RawConfig []byte `json:"raw"`
	Tags      []Tag  `json:"tags,omitempty"`
	// FromFile marks distributions declared in the configuration file:
	// they are not stored and the API may not change them. It travels in
	// the fleet's events, so that edges know which ones a changed file
	// replaces.
	FromFile bool `json:"from_file,omitempty"`
	// Refs are the resources the configuration names (policies, origin
	// access controls), as the service derives them from Config: a store
	// refuses a distribution naming one that does not exist, and the
	// deletion of one a distribution names.
	Refs []resource.Ref `json:"refs,omitempty"`

	// Origin and Aliases are kept for callers that predate Config: the
	// default behavior's origin as a URL, and Config.Aliases.
	Origin  *url.URL `json:"-"`
	Aliases []string `json:"-"`
	// Enabled is Config.Enabled.
	Enabled bool `json:"-"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Config is the part of a DistributionConfig openfront acts on.
type Config struct {
	Enabled              bool            `json:"enabled"`
	Comment              string          `json:"comment,omitempty"`
	Aliases              []string        `json:"aliases,omitempty"`
	DefaultRootObject    string          `json:"root,omitempty"`
	Origins              []Origin        `json:"origins"`
	OriginGroups         []OriginGroup   `json:"origin_groups,omitempty"`
	DefaultBehavior      CacheBehavior   `json:"default"`
	Behaviors            []CacheBehavior `json:"behaviors,omitempty"`
	CustomErrorResponses []ErrorResponse `json:"errors,omitempty"`
	Logging              Logging         `json:"logging,omitzero"`
}

// Logging is a distribution's standard (access) logging settings. An edge
// writing access logs puts a distribution's files under Prefix and logs
// its viewers' cookies when IncludeCookies, if Enabled; Bucket is kept,
// not written to (the files go to the edge's log directory).
type Logging struct {
	Enabled        bool   `json:"enabled,omitempty"`
	IncludeCookies bool   `json:"cookies,omitempty"`
	Bucket         string `json:"bucket,omitempty"`
	Prefix         string `json:"prefix,omitempty"`
}

// Origin is where a behavior fetches objects from.
type Origin struct {
	ID         string `json:"id"`
	DomainName string `json:"domain"`
	OriginPath string `json:"path,omitempty"`
	// S3 origins are fetched over HTTPS on port 443.
	S3 bool `json:"s3,omitempty"`
	// ProtocolPolicy is http-only, https-only or match-viewer.
	ProtocolPolicy     string        `json:"protocol,omitempty"`
	HTTPPort           int           `json:"http_port,omitempty"`
	HTTPSPort          int           `json:"https_port,omitempty"`
	CustomHeaders      []Header      `json:"headers,omitempty"`
	ConnectionAttempts int           `json:"attempts,omitempty"`
	ConnectionTimeout  time.Duration `json:"connect_timeout,omitempty"`
	ReadTimeout        time.Duration `json:"read_timeout,omitempty"`
	KeepaliveTimeout   time.Duration `json:"keepalive_timeout,omitempty"`
	// OriginAccessControlID names the origin access control whose
	// signing edges apply to requests to this origin ("" for none).
	OriginAccessControlID string `json:"oac,omitempty"`
}

// OriginGroup is a primary origin with failover members, which a cache
// behavior may target in place of an origin.
type OriginGroup struct {
	ID string `json:"id"`
	// Members are origin Ids, the primary first.
	Members []string `json:"members"`
	// FailoverStatusCodes are the primary's statuses that make CloudFront
	// try the next member.
	FailoverStatusCodes []int `json:"failover,omitempty"`
}

// OriginFor returns the origin a behavior's TargetOriginID names: an
// origin, or the primary member of an origin group.
func (c *Config) OriginFor(target string) (*Origin, bool) {
	for _, g := range c.OriginGroups {
		if g.ID == target && len(g.Members) > 0 {
			target = g.Members[0]
			break
		}
	}
	for i := range c.Origins {
		if c.Origins[i].ID == target {
			return &c.Origins[i], true
		}
	}
	return nil, false
}

// Header is a name and value.
type Header struct {
	Name  string `json:"n"`
	Value string `json:"v"`
}

// CacheBehavior says how requests matching PathPattern are served.
type CacheBehavior struct {
	PathPattern          string   `json:"pattern,omitempty"` // "" for the default behavior
	TargetOriginID       string   `json:"origin"`
	ViewerProtocolPolicy string   `json:"viewer_protocol,omitempty"`
	AllowedMethods       []string `json:"allowed,omitempty"`
	CachedMethods        []string `json:"cached,omitempty"`
	Compress             bool     `json:"compress,omitempty"`
	// TTLs in seconds, against the origin's Cache-Control and Expires.
	MinTTL     int64 `json:"min_ttl"`
	DefaultTTL int64 `json:"default_ttl"`
	MaxTTL     int64 `json:"max_ttl"`
	// ForwardQueryString puts the query string in the cache key (and sends
	// it to the origin); QueryStringCacheKeys, when not empty, restricts
	// the key to those parameters.
	ForwardQueryString   bool     `json:"qs,omitempty"`
	QueryStringCacheKeys []string `json:"qs_keys,omitempty"`
	// ForwardedHeaders and ForwardedCookies vary the cache key.
	ForwardedHeaders []string `json:"headers,omitempty"`
	ForwardCookies   string   `json:"cookies,omitempty"` // none, all, whitelist
	CookieNames      []string `json:"cookie_names,omitempty"`
	CachePolicyID    string   `json:"cache_policy,omitempty"`
	// OriginRequestPolicyID and ResponseHeadersPolicyID name the
	// behavior's policies ("" for none).
	OriginRequestPolicyID   string `json:"origin_request_policy,omitempty"`
	ResponseHeadersPolicyID string `json:"response_headers_policy,omitempty"`
	// FunctionAssociations are the CloudFront Functions the behavior runs.
	FunctionAssociations []FunctionAssociation `json:"functions,omitempty"`
	// TrustedKeyGroups (key group Ids) and TrustedSigners (AWS account
	// numbers, "self" for the distribution's own) are set only when the
	// behavior's list is Enabled: the behavior then serves only signed
	// requests.
	TrustedKeyGroups []string `json:"trusted_key_groups,omitempty"`
	TrustedSigners   []string `json:"trusted_signers,omitempty"`
}

// FunctionAssociation is one of a behavior's FunctionAssociations.
type FunctionAssociation struct {
	// EventType is "viewer-request" or "viewer-response".
	EventType   string `json:"event"`
	FunctionARN string `json:"arn"`
}

// ErrorResponse is a CustomErrorResponse.
type ErrorResponse struct {
	ErrorCode          int    `json:"code"`
	ResponsePagePath   string `json:"page,omitempty"`
	ResponseCode       string `json:"response,omitempty"`
	ErrorCachingMinTTL int64  `json:"min_ttl"`
}

// derive fills the convenience fields from Config.
func (d *Distribution) derive() {
	d.Enabled = d.Config.Enabled
	d.Aliases = d.Config.Aliases
	d.Origin = nil
	if o, ok := d.Config.OriginFor(d.Config.DefaultBehavior.TargetOriginID); ok {
		d.Origin = o.URL()
	}
}

// URL is the origin's base URL as fetched for a viewer on plain HTTP.
func (o Origin) URL() *url.URL {
	u := &url.URL{Scheme: "http", Host: o.DomainName, Path: o.OriginPath}
	port := o.HTTPPort
	if o.S3 || o.ProtocolPolicy == "https-only" {
		u.Scheme, port = "https", o.HTTPSPort
		if port == 0 {
			port = 443
		}
	}
	if port == 0 {
		port = 80
	}
	if (u.Scheme == "http" && port != 80) || (u.Scheme == "https" && port != 443) {
		u.Host = o.DomainName + ":" + itoa(port)
	}
	return u
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
