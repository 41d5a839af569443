// Package cloudfront speaks CloudFront's REST-XML protocol (API version
// 2020-05-31): routing, request and response shapes, the error envelope,
// and Signature Version 4 authentication. The rules themselves live in the
// domain packages.
package cloudfront

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/sigv4"
)

// MaxBodyBytes bounds a request body. A batch of 3,000 paths of 4,000
// characters is about 12 MB, so every valid request fits.
const MaxBodyBytes = 16 << 20

// Key is an access key API clients sign with.
type Key struct {
	Secret string
	// Distributions, when not empty, limits the key to these Ids.
	Distributions []string
}

// Config is what a Handler is built from.
type Config struct {
	Invalidations *invalidation.Service
	Distributions *distribution.Service
	// Fleet serves openfront's own endpoints under /openfront/ (the edge
	// stream, acknowledgements, the admin view), authenticated like the API
	// with a key not limited to some distributions.
	Fleet http.Handler
	// Keys maps access key ids to keys. Empty means open mode: requests are
	// not authenticated.
	Keys map[string]Key
	// AccountID is used in ARNs of error messages.
	AccountID string
	Logger    *slog.Logger
	// Resources finds the policies that are not managed, for the
	// ListDistributionsBy…Id operations (nil: only managed ones exist).
	Resources ResourceLookup
	// ResourceServices are the services of cache, origin request and
	// response headers policies, origin access controls and identities,
	// one per kind; a kind without one answers NotImplemented.
	ResourceServices []*resource.Service
	// FunctionRuntime compiles functions' code and runs TestFunction; nil:
	// code is stored unchecked and TestFunction is UnsupportedOperation.
	FunctionRuntime FunctionRuntime
	// Metrics, when not nil, counts every API request (not the fleet's
	// /openfront/ endpoints) by operation and status, with its duration.
	Metrics Metrics
}

// Handler serves the CloudFront API.
type Handler struct {
	inv      *invalidation.Service
	dists    *distribution.Service
	fleet    http.Handler
	keys     map[string]Key
	account  string
	log      *slog.Logger
	verifier *sigv4.Verifier
	// kvsVerifier checks the KeyValueStore data plane's requests
	// (cloudfront-keyvaluestore, SigV4A); nil in open mode.
	kvsVerifier *sigv4.Verifier
	mux         *http.ServeMux
	ops         map[string]Operation // route pattern -> operation; read-only after NewHandler
	metrics     Metrics              // nil: not counted
	// resources are Config.Resources by kind; read-only after NewHandler.
	resources map[resource.Kind]*resource.Service
	// kvsNames remembers the Id of a KeyValueStore's name; an entry is
	// checked against the store on every use, and the map is emptied
	// past maxKVSNames entries (names of deleted stores linger).
	kvsMu     sync.Mutex
	kvsNames  map[string]string // guarded by kvsMu
	fnRuntime FunctionRuntime   // nil: none
}

// NewHandler returns a Handler for c.
func NewHandler(c Config) *Handler {
	h := &Handler{inv: c.Invalidations, dists: c.Distributions, fleet: c.Fleet, keys: c.Keys, account: c.AccountID, log: c.Logger,
		ops: map[string]Operation{}, metrics: c.Metrics, resources: map[resource.Kind]*resource.Service{},
		fnRuntime: c.FunctionRuntime}
	for _, s := range c.ResourceServices {
		if s != nil {
			h.resources[s.Kind()] = s
		}
	}
	if h.account == "" {
		h.account = "000000000000"
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if len(h.keys) > 0 {
		secret := func(id string) (string, bool) {
			k, ok := h.keys[id]
			return k.Secret, ok
		}
		h.verifier = &sigv4.Verifier{Service: "cloudfront", Secret: secret}
		h.kvsVerifier = &sigv4.Verifier{Service: "cloudfront-keyvaluestore", SigV4A: true, Secret: secret}
	}
	const inv = "/2020-05-31/distribution/{DistributionId}/invalidation"
	m := http.NewServeMux()
	h.route(m, "POST "+inv, OpCreateInvalidation, h.createInvalidation)
	h.route(m, "GET "+inv, OpListInvalidations, h.listInvalidations)
	h.route(m, "GET "+inv+"/{Id}", OpGetInvalidation, h.getInvalidation)
	const dist = "/2020-05-31/distribution"
	h.route(m, "POST "+dist, OpCreateDistribution, h.createDistribution)
	h.route(m, "GET "+dist, OpListDistributions, h.listDistributions)
	h.route(m, "GET "+dist+"/{Id}", OpGetDistribution, h.getDistribution)
	h.route(m, "DELETE "+dist+"/{Id}", OpDeleteDistribution, h.deleteDistribution)
	h.route(m, "GET "+dist+"/{Id}/config", OpGetDistributionConfig, h.getDistributionConfig)
	h.route(m, "PUT "+dist+"/{Id}/config", OpUpdateDistribution, h.updateDistribution)
	h.route(m, "GET /2020-05-31/tagging", OpListTagsForResource, h.tagging)
	h.route(m, "POST /2020-05-31/tagging", OpTagResource, h.tagging) // or Untag: operation
	h.routeByPolicy(m, c.Resources)
	m.HandleFunc(dist, methodNotAllowed("GET", "POST"))
	m.HandleFunc(dist+"/{Id}", methodNotAllowed("GET", "DELETE"))
	m.HandleFunc(dist+"/{Id}/config", methodNotAllowed("GET", "PUT"))
	m.HandleFunc("/2020-05-31/tagging", methodNotAllowed("GET", "POST"))
	m.HandleFunc(inv, methodNotAllowed("GET", "POST"))
	m.HandleFunc(inv+"/{Id}", methodNotAllowed("GET"))
	h.routePolicies(m)
	h.routeOriginAccess(m)
	h.routeKeyGroups(m)
	h.routeKeyValueStores(m)
	h.routeFunctions(m)
	m.HandleFunc("/2020-05-31/", notImplemented)
	m.HandleFunc("/", unknownOperation)
	h.mux = m
	return h
}

// OpenMode reports whether requests go unauthenticated.
func (h *Handler) OpenMode() bool { return h.verifier == nil }

type ctxKey struct{}

// reqInfo is what ServeHTTP learned of a request, for the operation's
// handler: one context value instead of three.
type reqInfo struct {
	body         []byte
	keyID, reqID string
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.metrics != nil && countedPath(r.URL.Path) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK // as net/http answers a handler that wrote nothing
			}
			h.metrics.Request(h.operation(r), status, time.Since(start))
		}()
		w = sw
	}
	reqID := newRequestID()
	w.Header()["X-Amz-Request-Id"] = []string{reqID} // Set("x-amz-request-id"), without canonicalizing the key each time
	body, err := readBody(r)
	if err != nil {
		h.fail(w, r, reqID, err)
		return
	}
	keyID := ""
	if isKVSData(r.URL.Path) {
		// The data plane: its own signing name (SigV4A), JSON errors.
		if h.kvsVerifier != nil {
			if keyID, err = h.kvsVerifier.Verify(r, body); err != nil {
				writeKVSError(w, reqID, h.kvsError(reqID, err))
				return
			}
		}
	} else if h.verifier != nil {
		if keyID, err = h.verifier.Verify(r, body); err != nil {
			h.fail(w, r, reqID, err)
			return
		}
	}
	if strings.HasPrefix(r.URL.Path, "/openfront/") && h.fleet != nil {
		if keyID != "" && len(h.keys[keyID].Distributions) > 0 {
			h.fail(w, r, reqID, &apiError{http.StatusForbidden, "AccessDenied", "Access key " + keyID + " is limited to some distributions; the fleet endpoints need an unrestricted key."})
			return
		}
		h.fleet.ServeHTTP(w, r)
		return
	}
	ctx := context.WithValue(r.Context(), ctxKey{}, &reqInfo{body, keyID, reqID})
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	if held, ok := r.Body.(interface{ TakeBytes() []byte }); ok {
		// The listener read it whole already (internal/fastserve): no copy.
		b := held.TakeBytes()
		if len(b) > MaxBodyBytes {
			return nil, tooLarge()
		}
		return b, nil
	}
	size := 512
	if r.ContentLength > 0 {
		size = int(r.ContentLength) + 1
	}
	buf := make([]byte, 0, size)
	for {
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxBodyBytes {
			return nil, tooLarge()
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, &apiError{http.StatusBadRequest, "IncompleteBody", "The request body could not be read: " + err.Error()}
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
	}
}

func tooLarge() *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, invalidation.CodeBatchTooLarge, "The request body is larger than 16 MiB."}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	a := h.errorAnswer(reqID, r.Method, r.URL.Path, err)
	a.write(w)
}

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

func requestID(r *http.Request) string { return info(r).reqID }
func body(r *http.Request) []byte      { return info(r).body }

// authorize checks that the signing key may act on the distribution.
func (h *Handler) authorize(r *http.Request, action, distributionID string) error {
	return h.authorizeKey(info(r).keyID, action, distributionID)
}

// authorizeKey checks that the key keyID ("" in open mode) may act on the
// distribution.
func (h *Handler) authorizeKey(keyID, action, distributionID string) error {
	if keyID == "" {
		return nil
	}
	k := h.keys[keyID]
	if len(k.Distributions) == 0 || slices.Contains(k.Distributions, distributionID) {
		return nil
	}
	resource := distributionID
	if resource == "" {
		resource = "*" // account-wide operations: create, list
	}
	return &apiError{http.StatusForbidden, "AccessDenied",
		"User: arn:aws:iam::" + h.account + ":user/" + keyID + " is not authorized to perform: cloudfront:" + action +
			" on resource: arn:aws:cloudfront::" + h.account + ":distribution/" + resource}
}

func methodNotAllowed(allowed ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, requestID(r), &apiError{http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The method " + r.Method + " is not allowed on " + r.URL.Path + "."})
	}
}

func notImplemented(w http.ResponseWriter, r *http.Request) {
	writeError(w, requestID(r), &apiError{http.StatusNotImplemented, "NotImplemented",
		"openfront does not implement " + r.Method + " " + r.URL.Path + " yet."})
}

func unknownOperation(w http.ResponseWriter, r *http.Request) {
	writeError(w, requestID(r), &apiError{http.StatusNotFound, "UnknownOperation",
		"No CloudFront operation answers " + r.Method + " " + r.URL.Path + "."})
}

// newRequestID returns a UUID-shaped id, as CloudFront's request ids are.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
