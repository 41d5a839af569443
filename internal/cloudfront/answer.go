package cloudfront

import (
	"context"
	"net/http"
	"time"

	"github.com/openfront/openfront/internal/sigv4"
)

// Answer is an answer of the API whatever the transport: what ServeHTTP
// would write. Its header is X-Amz-Request-Id, Location when not empty,
// Content-Type text/xml and the Body's Content-Length; the server adds
// Date.
type Answer struct {
	Status    int
	RequestID string
	Location  string
	Body      string
}

// write writes a on w, as the operations' handlers do.
func (a *Answer) write(w http.ResponseWriter) {
	h := w.Header()
	h["X-Amz-Request-Id"] = []string{a.RequestID}
	if a.Location != "" {
		h["Location"] = []string{a.Location}
	}
	writeXML(w, a.Status, a.Body)
}

// errorAnswer is the error envelope of err for a request, logged as fail
// logs it.
func (h *Handler) errorAnswer(reqID, method, path string, err error) Answer {
	e := toAPIError(err, h.log, reqID)
	h.log.Debug("request failed", "method", method, "path", path, "code", e.Code, "request_id", reqID)
	return Answer{Status: e.Status, RequestID: reqID, Body: errorBody(reqID, e)}
}

// BodyTooLarge is the answer to a request whose body is over
// MaxBodyBytes, for a server that refuses such a body before the request
// reaches ServeHTTP (which answers the same).
func (h *Handler) BodyTooLarge(method, path string) Answer {
	a := h.errorAnswer(newRequestID(), method, path, tooLarge())
	if h.metrics != nil && countedPath(path) {
		op := OpUnknown
		if r, err := http.NewRequest(method, path, nil); err == nil {
			op = h.operation(r)
		}
		h.metrics.Request(op, a.Status, 0)
	}
	return a
}

// Admit checks what can be checked of a request before its body is read
// (sigv4.Verifier.VerifyHeader: the Authorization header, the access key,
// the date, the signature when X-Amz-Content-Sha256 stands for the body):
// it reports true to go on, else the answer ServeHTTP would give. In open
// mode every request goes on. ServeHTTP checks the request again, whole.
func (h *Handler) Admit(req sigv4.Request, method, path string) (Answer, bool) {
	if h.verifier == nil || isKVSData(path) {
		// The data plane answers in JSON: ServeHTTP checks its requests.
		return Answer{}, true
	}
	if _, err := h.verifier.VerifyHeader(req); err != nil {
		return h.errorAnswer(newRequestID(), method, path, err), false
	}
	return Answer{}, true
}

// Busy is the answer to a request whose body the server cannot hold now
// (its budget of buffered request bodies is spent): 503
// ServiceUnavailable, which AWS SDKs retry with backoff.
func (h *Handler) Busy(method, path string) Answer {
	return h.errorAnswer(newRequestID(), method, path, &apiError{http.StatusServiceUnavailable, "ServiceUnavailable",
		"The service cannot accept the request body now: too many request bodies are being received. Retry the request."})
}

// CreateInvalidationPath is the path of CreateInvalidation for a
// distribution.
func CreateInvalidationPath(distID string) string {
	return distributionPath + distID + invalidationPath
}

// The parts of CreateInvalidationPath around the distribution's Id.
const (
	distributionPath = "/2020-05-31/distribution/"
	invalidationPath = "/invalidation"
)

// ServeCreateInvalidation answers a CreateInvalidation (POST
// CreateInvalidationPath(distID)) exactly as ServeHTTP does, without an
// *http.Request: req is the request as SigV4 reads it (its strings need
// only stay valid during the call), host its Host header, body its whole
// body, at most MaxBodyBytes. ctx bounds the operation. A success's body
// is appended to dst and returned, Answer.Body left empty (a server that
// has a buffer for the body is spared a string of it); an error's is
// Answer.Body, dst returned as it was.
func (h *Handler) ServeCreateInvalidation(ctx context.Context, req sigv4.Request, distID, host string, body, dst []byte) (Answer, []byte) {
	if h.metrics == nil {
		return h.serveCreateInvalidation(ctx, req, distID, host, body, dst)
	}
	start := time.Now()
	a, dst := h.serveCreateInvalidation(ctx, req, distID, host, body, dst)
	h.metrics.Request(OpCreateInvalidation, a.Status, time.Since(start))
	return a, dst
}

func (h *Handler) serveCreateInvalidation(ctx context.Context, req sigv4.Request, distID, host string, body, dst []byte) (Answer, []byte) {
	reqID := newRequestID()
	keyID := ""
	if h.verifier != nil {
		var err error
		if keyID, err = h.verifier.VerifyRequest(req, body); err != nil {
			return h.errorAnswer(reqID, http.MethodPost, CreateInvalidationPath(distID), err), dst
		}
	}
	return h.createInvalidationAnswer(ctx, keyID, reqID, distID, "http", host, body, dst)
}

// createInvalidationAnswer is CreateInvalidation once the request is
// authenticated: both ServeHTTP and ServeCreateInvalidation answer with
// it, a success's body appended to dst as ServeCreateInvalidation says.
// scheme and host are the server's as the client reached it.
func (h *Handler) createInvalidationAnswer(ctx context.Context, keyID, reqID, distID, scheme, host string, body, dst []byte) (Answer, []byte) {
	fail := func(err error) (Answer, []byte) {
		return h.errorAnswer(reqID, http.MethodPost, CreateInvalidationPath(distID), err), dst
	}
	if err := h.authorizeKey(keyID, "CreateInvalidation", distID); err != nil {
		return fail(err)
	}
	batch, err := decodeBatch(body)
	if err != nil {
		return fail(err)
	}
	inv, _, err := h.inv.Create(ctx, distID, batch)
	if err != nil {
		return fail(err)
	}
	// One concatenation (one allocation) for the whole URL:
	// CreateInvalidationPath(distID) + "/" + inv.ID after the base.
	return Answer{Status: http.StatusCreated, RequestID: reqID,
		Location: scheme + "://" + host + distributionPath + distID + invalidationPath + "/" + inv.ID}, appendInvalidation(dst, inv)
}
