package cloudfront

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/sigv4"
)

// apiError is an error as CloudFront's envelope carries it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// statusOf maps the domain's CloudFront error codes to the HTTP statuses
// of the service model.
var statusOf = map[string]int{
	invalidation.CodeInvalidArgument:                http.StatusBadRequest,
	invalidation.CodeInconsistentQuantities:         http.StatusBadRequest,
	invalidation.CodeBatchTooLarge:                  http.StatusRequestEntityTooLarge,
	invalidation.CodeTooManyInvalidationsInProgress: http.StatusBadRequest,
	invalidation.CodeInvalidationBatchAlreadyExists: http.StatusConflict,
	invalidation.CodeNoSuchInvalidation:             http.StatusNotFound,
	invalidation.CodeNoSuchDistribution:             http.StatusNotFound,
	"MissingBody":                                   http.StatusBadRequest,
	distribution.CodeDistributionAlreadyExists:      http.StatusConflict,
	distribution.CodeCNAMEAlreadyExists:             http.StatusConflict,
	distribution.CodeInvalidIfMatchVersion:          http.StatusBadRequest,
	distribution.CodePreconditionFailed:             http.StatusPreconditionFailed,
	distribution.CodeDistributionNotDisabled:        http.StatusConflict,
	distribution.CodeIllegalUpdate:                  http.StatusBadRequest,
	distribution.CodeIllegalDelete:                  http.StatusBadRequest,
	distribution.CodeNoSuchOrigin:                   http.StatusNotFound,
	distribution.CodeInvalidTTLOrder:                http.StatusBadRequest,
	distribution.CodeInvalidDefaultRootObject:       http.StatusBadRequest,
	distribution.CodeInvalidOrigin:                  http.StatusBadRequest,
	distribution.CodeInvalidErrorCode:               http.StatusBadRequest,
	distribution.CodeInvalidResponseCode:            http.StatusBadRequest,
	distribution.CodeInvalidRelativePath:            http.StatusBadRequest,
	distribution.CodeTooManyOrigins:                 http.StatusBadRequest,
	distribution.CodeNoSuchResource:                 http.StatusNotFound,
	distribution.CodeInvalidTagging:                 http.StatusBadRequest,
}

// errUnavailable is AWS's common error for a temporary failure of the
// server.
var errUnavailable = &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."}

func invalidArgument(msg string) *apiError {
	return &apiError{http.StatusBadRequest, invalidation.CodeInvalidArgument, msg}
}

// toAPIError turns any error into what the client sees. Errors that are not
// CloudFront's own are logged and reported as InternalError without detail.
func toAPIError(err error, log *slog.Logger, reqID string) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	code, msg := "", ""
	var ie *invalidation.Error
	var de *distribution.Error
	var xe *xmlmodel.Error
	var re *resource.Error
	switch {
	case errors.As(err, &re):
		code, msg = re.Code, re.Message
	case errors.As(err, &ie):
		code, msg = ie.Code, ie.Message
	case errors.As(err, &de):
		code, msg = de.Code, de.Message
	case errors.As(err, &xe):
		code, msg = xe.Code, xe.Message
	}
	if st, ok := statusOf[code]; ok {
		return &apiError{st, code, msg}
	}
	if st, ok := xmlmodel.ErrorStatus(code); ok && code != "" {
		return &apiError{st, code, msg}
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &apiError{se.Status, se.Code, se.Message}
	}
	if errors.Is(err, invalidation.ErrUnavailable) {
		// The store cannot write now (a full disk) and retries by itself:
		// AWS's answer for a temporary failure, which SDKs retry.
		log.Warn("storage unavailable", "request_id", reqID, "err", err)
		return errUnavailable
	}
	log.Error("internal error", "request_id", reqID, "err", err)
	return &apiError{http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."}
}

// writeError writes CloudFront's error envelope.
func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	writeXML(w, e.Status, errorBody(reqID, e))
}

// errorBody is CloudFront's error envelope of e.
func errorBody(reqID string, e *apiError) string {
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString(`<ErrorResponse xmlns="` + Namespace + `"><Error><Type>`)
	if e.Status >= 500 {
		b.WriteString("Receiver")
	} else {
		b.WriteString("Sender")
	}
	b.WriteString("</Type><Code>")
	escapeTo(&b, e.Code)
	b.WriteString("</Code><Message>")
	escapeTo(&b, e.Message)
	b.WriteString("</Message></Error><RequestId>")
	escapeTo(&b, reqID)
	b.WriteString("</RequestId></ErrorResponse>")
	return b.String()
}
