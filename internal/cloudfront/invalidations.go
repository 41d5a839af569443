package cloudfront

import (
	"net/http"
	"strconv"
	"strings"
	"unsafe"
)

// defaultMaxItems and maxMaxItems bound ListInvalidations pages.
const (
	defaultMaxItems = 100
	maxMaxItems     = 1000
)

func (h *Handler) createInvalidation(w http.ResponseWriter, r *http.Request) {
	i := info(r)
	a, body := h.createInvalidationAnswer(r.Context(), i.keyID, i.reqID, r.PathValue("DistributionId"), scheme(r), r.Host, i.body, nil)
	if a.Body == "" {
		a.Body = bytesString(body)
	}
	a.write(w)
}

func (h *Handler) getInvalidation(w http.ResponseWriter, r *http.Request) {
	distID := r.PathValue("DistributionId")
	if err := h.authorize(r, "GetInvalidation", distID); err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	inv, err := h.inv.Get(r.Context(), distID, r.PathValue("Id"))
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	writeXML(w, http.StatusOK, bytesString(appendInvalidation(nil, inv)))
}

func (h *Handler) listInvalidations(w http.ResponseWriter, r *http.Request) {
	distID := r.PathValue("DistributionId")
	if err := h.authorize(r, "ListInvalidations", distID); err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	maxItems, err := parseMaxItems(r)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	marker := r.URL.Query().Get("Marker")
	page, err := h.inv.List(r.Context(), distID, marker, maxItems)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	var b strings.Builder
	writeInvalidationList(&b, marker, maxItems, page)
	writeXML(w, http.StatusOK, b.String())
}

// parseMaxItems reads the MaxItems query parameter of a List operation.
func parseMaxItems(r *http.Request) (int, error) {
	q := r.URL.Query()
	if !q.Has("MaxItems") {
		return defaultMaxItems, nil
	}
	n, err := strconv.Atoi(q.Get("MaxItems"))
	if err != nil || n < 1 || n > maxMaxItems {
		return 0, invalidArgument("MaxItems must be an integer from 1 to " + strconv.Itoa(maxMaxItems) + ".")
	}
	return n, nil
}

// bytesString is b as a string, without a copy: for a buffer written
// once and never again.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// baseURL is this server's URL as the client reached it.
func baseURL(r *http.Request) string { return scheme(r) + "://" + r.Host }

// scheme is the scheme of the server's URL as the client reached it.
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
