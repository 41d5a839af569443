package cloudfront

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/openfront/openfront/internal/invalidation"
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
}

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
	var de *invalidation.Error
	if errors.As(err, &de) {
		if st, ok := statusOf[de.Code]; ok {
			return &apiError{st, de.Code, de.Message}
		}
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &apiError{se.Status, se.Code, se.Message}
	}
	log.Error("internal error", "request_id", reqID, "err", err)
	return &apiError{http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."}
}

// writeError writes CloudFront's error envelope.
func writeError(w http.ResponseWriter, reqID string, e *apiError) {
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
	writeXML(w, e.Status, b.String())
}
