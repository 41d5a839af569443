package cloudfront

import (
	"net/http"
	"strings"
	"time"
)

// Operation is a CloudFront API operation, as the metrics name it.
type Operation uint8

// The operations openfront answers, in the order of OperationNames.
const (
	// OpUnknown is a request that names no operation openfront answers
	// (unknown or unimplemented routes, methods not allowed).
	OpUnknown Operation = iota
	OpCreateInvalidation
	OpGetInvalidation
	OpListInvalidations
	OpCreateDistribution
	OpGetDistribution
	OpListDistributions
	OpDeleteDistribution
	OpGetDistributionConfig
	OpUpdateDistribution
	OpListTagsForResource
	OpTagResource
	OpUntagResource
	OpListDistributionsByCachePolicyID
	OpListDistributionsByOriginRequestPolicyID
	OpListDistributionsByResponseHeadersPolicyID
	// The operations of policies, origin access controls and identities
	// (resourceapi.go), six per kind.
	OpCreateCachePolicy
	OpGetCachePolicy
	OpGetCachePolicyConfig
	OpUpdateCachePolicy
	OpDeleteCachePolicy
	OpListCachePolicies
	OpCreateOriginRequestPolicy
	OpGetOriginRequestPolicy
	OpGetOriginRequestPolicyConfig
	OpUpdateOriginRequestPolicy
	OpDeleteOriginRequestPolicy
	OpListOriginRequestPolicies
	OpCreateResponseHeadersPolicy
	OpGetResponseHeadersPolicy
	OpGetResponseHeadersPolicyConfig
	OpUpdateResponseHeadersPolicy
	OpDeleteResponseHeadersPolicy
	OpListResponseHeadersPolicies
	OpCreateOriginAccessControl
	OpGetOriginAccessControl
	OpGetOriginAccessControlConfig
	OpUpdateOriginAccessControl
	OpDeleteOriginAccessControl
	OpListOriginAccessControls
	OpCreateCloudFrontOriginAccessIdentity
	OpGetCloudFrontOriginAccessIdentity
	OpGetCloudFrontOriginAccessIdentityConfig
	OpUpdateCloudFrontOriginAccessIdentity
	OpDeleteCloudFrontOriginAccessIdentity
	OpListCloudFrontOriginAccessIdentities
	OpCreatePublicKey
	OpGetPublicKey
	OpGetPublicKeyConfig
	OpUpdatePublicKey
	OpDeletePublicKey
	OpListPublicKeys
	OpCreateKeyGroup
	OpGetKeyGroup
	OpGetKeyGroupConfig
	OpUpdateKeyGroup
	OpDeleteKeyGroup
	OpListKeyGroups
	OpCreateKeyValueStore
	OpDescribeKeyValueStore
	OpUpdateKeyValueStore
	OpDeleteKeyValueStore
	OpListKeyValueStores
	// The cloudfront-keyvaluestore service's operations (the data plane).
	OpKVSDescribeKeyValueStore
	OpKVSGetKey
	OpKVSListKeys
	OpKVSPutKey
	OpKVSDeleteKey
	OpKVSUpdateKeys
	// The operations of CloudFront Functions (functions.go).
	OpCreateFunction
	OpDescribeFunction
	OpGetFunction
	OpUpdateFunction
	OpPublishFunction
	OpDeleteFunction
	OpListFunctions
	OpTestFunction
	// NumOperations is the number of operations.
	NumOperations
)

// OperationNames are CloudFront's names of the operations, indexed by
// Operation ("Unknown" for OpUnknown).
var OperationNames = [NumOperations]string{
	"Unknown", "CreateInvalidation", "GetInvalidation", "ListInvalidations",
	"CreateDistribution", "GetDistribution", "ListDistributions", "DeleteDistribution",
	"GetDistributionConfig", "UpdateDistribution",
	"ListTagsForResource", "TagResource", "UntagResource",
	"ListDistributionsByCachePolicyId", "ListDistributionsByOriginRequestPolicyId", "ListDistributionsByResponseHeadersPolicyId",
	"CreateCachePolicy", "GetCachePolicy", "GetCachePolicyConfig", "UpdateCachePolicy", "DeleteCachePolicy", "ListCachePolicies",
	"CreateOriginRequestPolicy", "GetOriginRequestPolicy", "GetOriginRequestPolicyConfig", "UpdateOriginRequestPolicy", "DeleteOriginRequestPolicy", "ListOriginRequestPolicies",
	"CreateResponseHeadersPolicy", "GetResponseHeadersPolicy", "GetResponseHeadersPolicyConfig", "UpdateResponseHeadersPolicy", "DeleteResponseHeadersPolicy", "ListResponseHeadersPolicies",
	"CreateOriginAccessControl", "GetOriginAccessControl", "GetOriginAccessControlConfig", "UpdateOriginAccessControl", "DeleteOriginAccessControl", "ListOriginAccessControls",
	"CreateCloudFrontOriginAccessIdentity", "GetCloudFrontOriginAccessIdentity", "GetCloudFrontOriginAccessIdentityConfig", "UpdateCloudFrontOriginAccessIdentity", "DeleteCloudFrontOriginAccessIdentity", "ListCloudFrontOriginAccessIdentities",
	"CreatePublicKey", "GetPublicKey", "GetPublicKeyConfig", "UpdatePublicKey", "DeletePublicKey", "ListPublicKeys",
	"CreateKeyGroup", "GetKeyGroup", "GetKeyGroupConfig", "UpdateKeyGroup", "DeleteKeyGroup", "ListKeyGroups",
	"CreateKeyValueStore", "DescribeKeyValueStore", "UpdateKeyValueStore", "DeleteKeyValueStore", "ListKeyValueStores",
	"KVS:DescribeKeyValueStore", "KVS:GetKey", "KVS:ListKeys", "KVS:PutKey", "KVS:DeleteKey", "KVS:UpdateKeys",
	"CreateFunction", "DescribeFunction", "GetFunction", "UpdateFunction", "PublishFunction", "DeleteFunction", "ListFunctions", "TestFunction",
}

// String returns the operation's CloudFront name.
func (o Operation) String() string {
	if o < NumOperations {
		return OperationNames[o]
	}
	return OperationNames[OpUnknown]
}

// Metrics receives a count of every API request the Handler answers
// (internal/metrics implements it over Prometheus). Request is called on
// the request path and must not block or allocate.
type Metrics interface {
	// Request counts one request of op answered with the HTTP status,
	// which took d to answer (from the handler being called to its
	// return; the listener has read the body by then).
	Request(op Operation, status int, d time.Duration)
}

// operation returns the operation r is for, by the route that serves it;
// authentication failures count under the operation they were for.
func (h *Handler) operation(r *http.Request) Operation {
	_, pattern := h.mux.Handler(r)
	op := h.ops[pattern]
	if op == OpTagResource && r.Method == http.MethodPost && r.URL.Query().Get("Operation") == "Untag" {
		op = OpUntagResource
	}
	return op
}

// route registers fn for pattern as operation op.
func (h *Handler) route(m *http.ServeMux, pattern string, op Operation, fn http.HandlerFunc) {
	m.HandleFunc(pattern, fn)
	h.ops[pattern] = op
}

// statusWriter remembers the status of the answer, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countedPath reports whether a request to path counts as an API
// request: openfront's own /openfront/ endpoints (the fleet's event
// streams, acknowledgements, the admin view) do not.
func countedPath(path string) bool { return !strings.HasPrefix(path, "/openfront/") }
