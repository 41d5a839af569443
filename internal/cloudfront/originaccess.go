package cloudfront

import (
	"encoding/json"
	"net/http"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/resource"
)

// Origin access controls and the legacy origin access identities.
var (
	originAccessControlAPI = &kindAPI{
		kind: resource.OriginAccessControl, base: "/2020-05-31/origin-access-control", arn: "origin-access-control",
		name: "OriginAccessControl", plural: "OriginAccessControls",
		config: "OriginAccessControlConfig", doc: "OriginAccessControl", list: "OriginAccessControlList",
		updateOnConfig: true, decode: decodeOriginAccessControl, head: noHead, summary: controlSummary,
		ops: [6]Operation{OpCreateOriginAccessControl, OpGetOriginAccessControl, OpGetOriginAccessControlConfig, OpUpdateOriginAccessControl, OpDeleteOriginAccessControl, OpListOriginAccessControls},
	}
	originAccessIdentityAPI = &kindAPI{
		kind: resource.OriginAccessIdentity, base: "/2020-05-31/origin-access-identity/cloudfront", arn: "origin-access-identity",
		name: "CloudFrontOriginAccessIdentity", plural: "CloudFrontOriginAccessIdentities",
		config: "CloudFrontOriginAccessIdentityConfig", doc: "CloudFrontOriginAccessIdentity", list: "CloudFrontOriginAccessIdentityList",
		updateOnConfig: true, decode: decodeOriginAccessIdentity, head: identityHead, summary: identitySummary,
		ops: [6]Operation{OpCreateCloudFrontOriginAccessIdentity, OpGetCloudFrontOriginAccessIdentity, OpGetCloudFrontOriginAccessIdentityConfig, OpUpdateCloudFrontOriginAccessIdentity, OpDeleteCloudFrontOriginAccessIdentity, OpListCloudFrontOriginAccessIdentities},
	}
)

func init() {
	kindAPIs[originAccessControlAPI.kind] = originAccessControlAPI
	kindAPIs[originAccessIdentityAPI.kind] = originAccessIdentityAPI
}

// OriginAccessRules are the rules resource.Service applies to origin
// access controls and identities: CloudFront's error codes and messages,
// Ids of 14 characters (E and 13 of A-Z0-9), the account's quota (100 of
// each), and CallerReference idempotency for identities.
func OriginAccessRules(kind resource.Kind) resource.Rules {
	r := resource.Rules{Kind: kind, Max: 100}
	switch kind {
	case resource.OriginAccessControl:
		r.NoSuch, r.NoSuchMessage = "NoSuchOriginAccessControl", "The origin access control does not exist."
		r.AlreadyExists, r.AlreadyExistsMessage = "OriginAccessControlAlreadyExists", "An origin access control with the same name already exists."
		r.InUse, r.InUseMessage = "OriginAccessControlInUse", "Cannot delete the origin access control because it's in use by one or more distributions."
		r.TooMany, r.TooManyMessage = "TooManyOriginAccessControls", "The number of origin access controls in your AWS account exceeds the maximum allowed."
	case resource.OriginAccessIdentity:
		r.NoSuch, r.NoSuchMessage = "NoSuchCloudFrontOriginAccessIdentity", "The specified origin access identity does not exist."
		r.AlreadyExists, r.AlreadyExistsMessage = "CloudFrontOriginAccessIdentityAlreadyExists", "If the CallerReference is a value you already sent in a previous request to create an identity but the content of the CloudFrontOriginAccessIdentityConfig is different from the original request, CloudFront returns a CloudFrontOriginAccessIdentityAlreadyExists error."
		r.InUse, r.InUseMessage = "CloudFrontOriginAccessIdentityInUse", "The Origin Access Identity specified is already in use."
		r.TooMany, r.TooManyMessage = "TooManyCloudFrontOriginAccessIdentities", "Processing your request would cause you to exceed the maximum number of origin access identities allowed."
		r.IdempotentName = true
	}
	return r
}

// routeOriginAccess registers the operations of origin access controls
// and identities.
func (h *Handler) routeOriginAccess(m *http.ServeMux) {
	h.routeKind(m, originAccessControlAPI)
	h.routeKind(m, originAccessIdentityAPI)
}

func noHead(*resource.Resource) []*xmlmodel.Element { return nil }

func decodeOriginAccessControl(e *xmlmodel.Element, _ *resource.Resource, check bool) (string, []byte, error) {
	var c originaccess.Control
	c.Name, _ = e.Value("Name")
	c.Description, _ = e.Value("Description")
	c.SigningProtocol, _ = e.Value("SigningProtocol")
	c.SigningBehavior, _ = e.Value("SigningBehavior")
	c.OriginType, _ = e.Value("OriginAccessControlOriginType")
	if err := c.Validate(); check && err != nil {
		return "", nil, err
	}
	return c.Name, typedJSON(c), nil
}

// controlSummary is an OriginAccessControlSummary; Description, which a
// configuration may leave out, is always there.
func controlSummary(r *resource.Resource, cfg *xmlmodel.Element) *xmlmodel.Element {
	s := xmlmodel.NewParent("OriginAccessControlSummary", xmlmodel.New("Id", r.ID))
	desc, _ := cfg.Value("Description")
	s.Children = append(s.Children, xmlmodel.New("Description", desc))
	for _, m := range []string{"Name", "SigningProtocol", "SigningBehavior", "OriginAccessControlOriginType"} {
		s.Children = append(s.Children, cfg.Child(m))
	}
	return s
}

// decodeOriginAccessIdentity reads a CloudFrontOriginAccessIdentityConfig.
// A new identity gets a fresh S3 canonical user Id; an update keeps the
// stored one and may not change the CallerReference (IllegalUpdate).
func decodeOriginAccessIdentity(e *xmlmodel.Element, old *resource.Resource, check bool) (string, []byte, error) {
	var i originaccess.Identity
	i.CallerReference, _ = e.Value("CallerReference")
	i.Comment, _ = e.Value("Comment")
	if err := i.Validate(); check && err != nil {
		return "", nil, err
	}
	if old == nil {
		i.S3CanonicalUserID = originaccess.NewS3CanonicalUserID()
	} else {
		prev := identityOf(old)
		if prev.CallerReference != i.CallerReference {
			return "", nil, &resource.Error{Code: resource.CodeIllegalUpdate, Message: "The CallerReference of an origin access identity cannot be changed."}
		}
		i.S3CanonicalUserID = prev.S3CanonicalUserID
	}
	return i.CallerReference, typedJSON(i), nil
}

// identityOf is the stored typed configuration of an identity.
func identityOf(r *resource.Resource) originaccess.Identity {
	var i originaccess.Identity
	_ = json.Unmarshal(r.Config, &i) // written by decodeOriginAccessIdentity
	return i
}

func identityHead(r *resource.Resource) []*xmlmodel.Element {
	return []*xmlmodel.Element{xmlmodel.New("S3CanonicalUserId", identityOf(r).S3CanonicalUserID)}
}

func identitySummary(r *resource.Resource, cfg *xmlmodel.Element) *xmlmodel.Element {
	comment, _ := cfg.Value("Comment")
	return xmlmodel.NewParent("CloudFrontOriginAccessIdentitySummary",
		xmlmodel.New("Id", r.ID),
		xmlmodel.New("S3CanonicalUserId", identityOf(r).S3CanonicalUserID),
		xmlmodel.New("Comment", comment))
}
