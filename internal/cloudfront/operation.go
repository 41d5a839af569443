package cloudfront

import "strings"

// OperationOf returns the operation a request's method, path and query
// name, as the Handler routes them (its operation, which needs an
// *http.Request): for a listener's log line, which has only the request's
// bytes. The fleet's endpoints and anything else are OpUnknown.
func OperationOf(method, path, query string) Operation {
	rest, ok := strings.CutPrefix(path, "/2020-05-31/")
	if !ok {
		return OpUnknown
	}
	seg := strings.Split(rest, "/")
	switch {
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
