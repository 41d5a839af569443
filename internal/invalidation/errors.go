package invalidation

import (
	"errors"
	"fmt"
)

// Error is a rule violation, named by the CloudFront error code a client
// would receive for it. The protocol layer maps codes to HTTP statuses.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// CloudFront's error codes for invalidations.
const (
	CodeInvalidArgument                = "InvalidArgument"
	CodeInconsistentQuantities         = "InconsistentQuantities"
	CodeBatchTooLarge                  = "BatchTooLarge"
	CodeTooManyInvalidationsInProgress = "TooManyInvalidationsInProgress"
	CodeInvalidationBatchAlreadyExists = "InvalidationBatchAlreadyExists"
	CodeNoSuchInvalidation             = "NoSuchInvalidation"
	CodeNoSuchDistribution             = "NoSuchDistribution"
)

// Messages CloudFront sends, as users report them.
const (
	msgInvalidPaths       = "Your request contains one or more invalid invalidation paths."
	msgTooManyPaths       = "Processing your request will cause you to exceed the maximum number of in-progress invalidations."
	msgTooManyWildcards   = "Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations."
	msgBatchExists        = "Your request contains a caller reference that was used for a previous invalidation batch for the same distribution."
	msgNoSuchDistribution = "The specified distribution does not exist."
	msgNoSuchInvalidation = "The specified invalidation does not exist."
)

func newError(code, format string, args ...any) *Error {
	if len(args) == 0 {
		return &Error{Code: code, Message: format}
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrNoSuchDistribution is returned for an unknown distribution Id.
var ErrNoSuchDistribution = newError(CodeNoSuchDistribution, msgNoSuchDistribution)

// ErrNoSuchInvalidation is returned for an unknown invalidation Id.
var ErrNoSuchInvalidation = newError(CodeNoSuchInvalidation, msgNoSuchInvalidation)

// ErrNotFound is what a Store returns for a record it does not hold.
var ErrNotFound = errors.New("not found")

// ErrUnavailable is wrapped by the errors a Store returns while it cannot
// write (its disk is full, say) and expects to again: the request may
// succeed if tried again later. The protocol layer answers it 503.
var ErrUnavailable = errors.New("storage temporarily unavailable")

// ErrMarkerNotFound is what a Store returns when a list marker names no
// invalidation of the distribution.
var ErrMarkerNotFound = errors.New("marker not found")

// CodeOf returns the CloudFront error code carried by err, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
