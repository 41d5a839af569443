// Package originaccess holds origin access controls (OAC), which tell
// edges to sign their requests to an origin (SigV4 for S3), and the
// legacy origin access identities (OAI), which are only kept.
package originaccess

// Signing behaviors of an origin access control.
const (
	SignAlways     = "always"
	SignNever      = "never"
	SignNoOverride = "no-override" // sign unless the viewer sent Authorization
)

// Control is an OriginAccessControlConfig.
type Control struct {
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	SigningProtocol string `json:"protocol"` // sigv4
	SigningBehavior string `json:"behavior"`
	// OriginType is s3, mediastore, mediapackagev2 or lambda.
	OriginType string `json:"origin_type"`
}

// Identity is a CloudFrontOriginAccessIdentityConfig plus what CloudFront
// derives from it.
type Identity struct {
	CallerReference string `json:"ref"`
	Comment         string `json:"comment"`
	// S3CanonicalUserID is the identity's S3 canonical user Id.
	S3CanonicalUserID string `json:"s3_canonical_user_id"`
}
