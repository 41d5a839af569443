package distribution

import "fmt"

// Error is a rule violation named by CloudFront's error code.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CloudFront's error codes for distributions.
const (
	CodeNoSuchDistribution        = "NoSuchDistribution"
	CodeDistributionAlreadyExists = "DistributionAlreadyExists"
	CodeCNAMEAlreadyExists        = "CNAMEAlreadyExists"
	CodeInvalidIfMatchVersion     = "InvalidIfMatchVersion"
	CodePreconditionFailed        = "PreconditionFailed"
	CodeDistributionNotDisabled   = "DistributionNotDisabled"
	CodeIllegalUpdate             = "IllegalUpdate"
	CodeIllegalDelete             = "IllegalDelete"
	CodeInvalidArgument           = "InvalidArgument"
	CodeNoSuchOrigin              = "NoSuchOrigin"
	CodeInvalidTTLOrder           = "InvalidTTLOrder"
	CodeInvalidDefaultRootObject  = "InvalidDefaultRootObject"
	CodeInvalidOrigin             = "InvalidOrigin"
	CodeInvalidErrorCode          = "InvalidErrorCode"
	CodeInvalidResponseCode       = "InvalidResponseCode"
	CodeInvalidRelativePath       = "InvalidRelativePath"
	CodeTooManyOrigins            = "TooManyOrigins"
	CodeNoSuchResource            = "NoSuchResource"
	CodeInvalidTagging            = "InvalidTagging"
)

// ErrNoSuchDistribution is returned for an unknown Id.
var ErrNoSuchDistribution = &Error{CodeNoSuchDistribution, "The specified distribution does not exist."}
