package cloudfront

import (
	"slices"
	"strings"
)

// OperationOf returns the operation a request's method, path and query
// name, as the Handler routes them (its operation, which needs an
// *http.Request): for a listener's log line, which has only the request's
// bytes. The fleet's endpoints and anything else are OpUnknown.
func OperationOf(method, path, query string) Operation {
	if isKVSData(path) {
		return kvsDataOperation(method, strings.Split(strings.TrimPrefix(path, kvsPrefix), "/"))
	}
	rest, ok := strings.CutPrefix(path, "/2020-05-31/")
	if !ok {
		return OpUnknown
	}
	seg := strings.Split(rest, "/")
	if op, ok := kindOperation(method, seg); ok {
		return op
	}
	if seg[0] == "function" {
		return functionOperation(method, seg)
	}
	switch {
	case seg[0] == "key-value-store" && len(seg) == 1:
		switch method {
		case "POST":
			return OpCreateKeyValueStore
		case "GET":
			return OpListKeyValueStores
		}
	case seg[0] == "key-value-store" && len(seg) == 2:
		switch method {
		case "GET":
			return OpDescribeKeyValueStore
		case "PUT":
			return OpUpdateKeyValueStore
		case "DELETE":
			return OpDeleteKeyValueStore
		}
	case len(seg) == 1 && seg[0] == "tagging":
		switch {
		case method == "GET":
			return OpListTagsForResource
		case strings.Contains(query, "Operation=Untag"):
			return OpUntagResource
		case strings.Contains(query, "Operation=Tag"):
			return OpTagResource
		}
	case strings.HasPrefix(seg[0], "distributionsBy"):
		for _, op := range byPolicyOps {
			if len(seg) == 2 && seg[1] != "" && method == "GET" && strings.HasPrefix(op.path, "/2020-05-31/"+seg[0]+"/") {
				return op.op
			}
		}
	case seg[0] != "distribution":
	case len(seg) == 1:
		switch method {
		case "GET":
			return OpListDistributions
		case "POST":
			return OpCreateDistribution
		}
	case len(seg) == 2:
		switch method {
		case "GET":
			return OpGetDistribution
		case "DELETE":
			return OpDeleteDistribution
		}
	case len(seg) == 3 && seg[2] == "config":
		switch method {
		case "GET":
			return OpGetDistributionConfig
		case "PUT":
			return OpUpdateDistribution
		}
	case len(seg) == 3 && seg[2] == "invalidation":
		switch method {
		case "GET":
			return OpListInvalidations
		case "POST":
			return OpCreateInvalidation
		}
	case len(seg) == 4 && seg[2] == "invalidation" && method == "GET":
		return OpGetInvalidation
	}
	return OpUnknown
}

// kindOperation is OperationOf for the kinds of resourceapi.go.
func kindOperation(method string, seg []string) (Operation, bool) {
	for _, api := range kindAPIs {
		base := strings.Split(strings.TrimPrefix(api.base, "/2020-05-31/"), "/")
		if len(seg) < len(base) || len(seg) > len(base)+2 || !slices.Equal(seg[:len(base)], base) {
			continue
		}
		rest := seg[len(base):]
		switch {
		case len(rest) == 0 && method == "POST":
			return api.ops[0], true
		case len(rest) == 0 && method == "GET":
			return api.ops[5], true
		case len(rest) == 1 && method == "GET":
			return api.ops[1], true
		case len(rest) == 1 && method == "DELETE":
			return api.ops[4], true
		case len(rest) == 1 && method == "PUT" && !api.updateOnConfig:
			return api.ops[3], true
		case len(rest) == 2 && rest[1] == "config" && method == "GET":
			return api.ops[2], true
		case len(rest) == 2 && rest[1] == "config" && method == "PUT" && api.updateOnConfig:
			return api.ops[3], true
		}
		return OpUnknown, true
	}
	return OpUnknown, false
}

// kvsDataOperation is OperationOf for the KeyValueStore data plane; seg
// is the path after /key-value-stores/ (the ARN is one escaped segment).
func kvsDataOperation(method string, seg []string) Operation {
	switch {
	case len(seg) == 1 && method == "GET":
		return OpKVSDescribeKeyValueStore
	case len(seg) == 2 && seg[1] == "keys" && method == "GET":
		return OpKVSListKeys
	case len(seg) == 2 && seg[1] == "keys" && method == "POST":
		return OpKVSUpdateKeys
	case len(seg) == 3 && seg[1] == "keys":
		switch method {
		case "GET":
			return OpKVSGetKey
		case "PUT":
			return OpKVSPutKey
		case "DELETE":
			return OpKVSDeleteKey
		}
	}
	return OpUnknown
}
