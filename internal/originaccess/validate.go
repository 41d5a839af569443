package originaccess

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"github.com/openfront/openfront/internal/resource"
)

// Lengths CloudFront allows (the API reference's OriginAccessControlConfig
// and CloudFrontOriginAccessIdentityConfig).
const (
	MaxControlNameLength        = 64
	MaxControlDescriptionLength = 256
	MaxIdentityCommentLength    = 128
	MaxCallerReferenceLength    = 128
)

func invalid(format string, args ...any) *resource.Error {
	return &resource.Error{Code: "InvalidArgument", Message: fmt.Sprintf(format, args...)}
}

// Validate checks an origin access control: a name of 1 to 64
// characters, a description of at most 256, and the enums (which the
// protocol layer checks against the model too).
func (c *Control) Validate() error {
	switch n := utf8.RuneCountInString(c.Name); {
	case n == 0:
		return invalid("The origin access control name cannot be empty.")
	case n > MaxControlNameLength:
		return invalid("The origin access control name is longer than %d characters.", MaxControlNameLength)
	}
	if utf8.RuneCountInString(c.Description) > MaxControlDescriptionLength {
		return invalid("The origin access control description is longer than %d characters.", MaxControlDescriptionLength)
	}
	if c.SigningProtocol != "sigv4" {
		return invalid("The signing protocol must be sigv4.")
	}
	switch c.SigningBehavior {
	case SignAlways, SignNever, SignNoOverride:
	default:
		return invalid("The signing behavior must be always, never or no-override.")
	}
	switch c.OriginType {
	case "s3", "mediastore", "mediapackagev2", "lambda":
	default:
		return invalid("The origin type must be s3, mediastore, mediapackagev2 or lambda.")
	}
	return nil
}

// Validate checks an origin access identity's configuration: a
// CallerReference of 1 to 128 characters and a Comment of at most 128.
func (i *Identity) Validate() error {
	switch n := utf8.RuneCountInString(i.CallerReference); {
	case n == 0:
		return invalid("The CallerReference cannot be empty.")
	case n > MaxCallerReferenceLength:
		return invalid("The CallerReference is longer than %d characters.", MaxCallerReferenceLength)
	}
	if utf8.RuneCountInString(i.Comment) > MaxIdentityCommentLength {
		return invalid("The comment is longer than %d characters.", MaxIdentityCommentLength)
	}
	return nil
}

// NewS3CanonicalUserID returns a fresh S3 canonical user Id: 48 random
// bytes as 96 lower-case hex digits, the shape of CloudFront's.
func NewS3CanonicalUserID() string {
	var b [48]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
