#!/usr/bin/env bash
# compat/awscli_lifecycles.sh: openfront's policy and origin access APIs
# driven by the AWS CLI, unmodified (see awscli_lib.sh for which CLI). For
# each of a cache policy, an origin request policy, a response headers
# policy and an origin access control: create, get, list, update with a
# stale If-Match (PreconditionFailed) and without one
# (InvalidIfMatchVersion), update, delete with a stale If-Match, delete,
# get and delete of the deleted Id (NoSuch...). Every expectation is
# CloudFront's behaviour.
#
# While the server answers ListCachePolicies with 501 NotImplemented (a
# build without the policy API), the suite prints a SKIP line (also
# appended to $COMPAT_SKIPS) and exits 0.
#
# Run by compat/run.sh, which starts the server and sets OPENFRONT_ENDPOINT.
. "$(dirname "${BASH_SOURCE[0]}")/awscli_lib.sh" OPENFRONT_ENDPOINT
export EP=$OPENFRONT_ENDPOINT

rc=0
cf list-cache-policies >"$TMP/out" 2>"$TMP/err" || rc=$?
if [[ $rc -ne 0 ]] && grep -q '(NotImplemented)' "$TMP/err"; then
	line="SKIP awscli-lifecycles: ListCachePolicies answers 501 NotImplemented (the policy API is not in this build)"
	echo "$line"
	[[ -z ${COMPAT_SKIPS:-} ]] || echo "$line" >>"$COMPAT_SKIPS"
	exit 0
fi
[[ $rc -eq 0 ]] || { cat "$TMP/err" >&2; fail "list-cache-policies exited $rc"; }

# config KIND COMMENT: the config document of KIND (JSON for the CLI).
config() {
	local kind=$1 comment=$2
	case $kind in
	cache-policy)
		cat <<EOF
{"Name": "cli-cache-policy", "Comment": "$comment", "MinTTL": 1, "DefaultTTL": 3600, "MaxTTL": 86400,
 "ParametersInCacheKeyAndForwardedToOrigin": {"EnableAcceptEncodingGzip": true, "EnableAcceptEncodingBrotli": false,
  "HeadersConfig": {"HeaderBehavior": "none"}, "CookiesConfig": {"CookieBehavior": "whitelist", "Cookies": {"Quantity": 1, "Items": ["session"]}},
  "QueryStringsConfig": {"QueryStringBehavior": "allExcept", "QueryStrings": {"Quantity": 1, "Items": ["utm_source"]}}}}
EOF
		;;
	origin-request-policy)
		cat <<EOF
{"Name": "cli-origin-request-policy", "Comment": "$comment",
 "HeadersConfig": {"HeaderBehavior": "allViewerAndWhitelistCloudFront", "Headers": {"Quantity": 1, "Items": ["CloudFront-Viewer-Country"]}},
 "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "all"}}
EOF
		;;
	response-headers-policy)
		cat <<EOF
{"Name": "cli-response-headers-policy", "Comment": "$comment",
 "SecurityHeadersConfig": {"FrameOptions": {"FrameOption": "SAMEORIGIN", "Override": true},
  "ReferrerPolicy": {"ReferrerPolicy": "no-referrer", "Override": false}},
 "CustomHeadersConfig": {"Quantity": 1, "Items": [{"Header": "X-Served-By", "Value": "openfront", "Override": true}]},
 "RemoveHeadersConfig": {"Quantity": 1, "Items": [{"Header": "X-Powered-By"}]}}
EOF
		;;
	origin-access-control)
		cat <<EOF
{"Name": "cli-origin-access-control", "Description": "$comment", "SigningProtocol": "sigv4",
 "SigningBehavior": "no-override", "OriginAccessControlOriginType": "s3"}
EOF
		;;
	esac
}

# lifecycle KIND SHAPE CONFIG-KEY COMMENT-KEY NOSUCH LIST-COMMAND LIST-ITEMS-EXPR
lifecycle() {
	local kind=$1 shape=$2 key=$3 ckey=$4 nosuch=$5 list=$6 items=$7
	# The CLI's option for the config: CachePolicyConfig → --cache-policy-config.
	local flag
	flag=--$(sed -E 's/([a-z])([A-Z])/\1-\2/g' <<<"$key" | tr '[:upper:]' '[:lower:]')
	config "$kind" created >"$TMP/$kind.json"
	local out
	out=$(cf "create-$kind" "$flag" "file://$TMP/$kind.json" 2>"$TMP/err") || { cat "$TMP/err" >&2; fail "create-$kind failed"; }
	export SHAPE=$shape KEY=$key CKEY=$ckey
	check "$out" \
		'x = d[E["SHAPE"]]' \
		'assert d["ETag"], "no ETag"' \
		'assert d["Location"].startswith(E["EP"] + "/2020-05-31/") and d["Location"].endswith("/" + x["Id"]), d["Location"]' \
		'assert x[E["KEY"]][E["CKEY"]] == "created", x'
	local id etag
	id=$(field "$out" "d['$shape']['Id']")
	etag=$(field "$out" "d['ETag']")
	export ID=$id ETAG=$etag
	ok "create-$kind: 201, Id $id, ETag, Location"

	out=$(cf "get-$kind" --id "$id")
	check "$out" 'assert d["ETag"] == E["ETAG"], d["ETag"]' 'assert d[E["SHAPE"]]["Id"] == E["ID"]'
	ok "get-$kind: the same ETag"

	out=$(cf "$list" "${@:8}")
	check "$out" "assert E['ID'] in [$items], d"
	ok "$list lists it"

	config "$kind" stale >"$TMP/$kind.json"
	expect_error PreconditionFailed "update-$kind" --id "$id" --if-match "${etag}X" "$flag" "file://$TMP/$kind.json"
	ok "update-$kind with a stale If-Match: PreconditionFailed"
	expect_error InvalidIfMatchVersion "update-$kind" --id "$id" "$flag" "file://$TMP/$kind.json"
	ok "update-$kind without If-Match: InvalidIfMatchVersion"

	config "$kind" "updated by the CLI" >"$TMP/$kind.json"
	out=$(cf "update-$kind" --id "$id" --if-match "$etag" "$flag" "file://$TMP/$kind.json")
	check "$out" 'assert d["ETag"] and d["ETag"] != E["ETAG"], d["ETag"]' 'assert d[E["SHAPE"]][E["KEY"]][E["CKEY"]] == "updated by the CLI"'
	local new
	new=$(field "$out" "d['ETag']")
	ok "update-$kind: a new ETag"

	expect_error PreconditionFailed "delete-$kind" --id "$id" --if-match "$etag"
	ok "delete-$kind with a stale If-Match: PreconditionFailed"
	cf "delete-$kind" --id "$id" --if-match "$new" >/dev/null
	ok "delete-$kind"
	expect_error "$nosuch" "get-$kind" --id "$id"
	expect_error "$nosuch" "delete-$kind" --id "$id" --if-match "$new"
	ok "get-$kind and delete-$kind of the deleted Id: $nosuch"
	out=$(cf "$list" "${@:8}")
	check "$out" "assert E['ID'] not in [$items], d"
	ok "$list no longer lists it"
}

lifecycle cache-policy CachePolicy CachePolicyConfig Comment NoSuchCachePolicy list-cache-policies \
	'i["CachePolicy"]["Id"] for i in d["CachePolicyList"].get("Items", [])' --type custom
lifecycle origin-request-policy OriginRequestPolicy OriginRequestPolicyConfig Comment NoSuchOriginRequestPolicy \
	list-origin-request-policies 'i["OriginRequestPolicy"]["Id"] for i in d["OriginRequestPolicyList"].get("Items", [])' --type custom
lifecycle response-headers-policy ResponseHeadersPolicy ResponseHeadersPolicyConfig Comment NoSuchResponseHeadersPolicy \
	list-response-headers-policies 'i["ResponseHeadersPolicy"]["Id"] for i in d["ResponseHeadersPolicyList"].get("Items", [])' --type custom
lifecycle origin-access-control OriginAccessControl OriginAccessControlConfig Description NoSuchOriginAccessControl \
	list-origin-access-controls 'i["Id"] for i in d["OriginAccessControlList"].get("Items", [])'

out=$(cf list-cache-policies --type managed)
check "$out" 'n = {i["CachePolicy"]["CachePolicyConfig"]["Name"]: i["CachePolicy"]["Id"] for i in d["CachePolicyList"].get("Items", [])}' \
	'assert n.get("Managed-CachingOptimized") == "658327ea-f89d-4fab-a63d-7e88639e58f6", n'
ok "list-cache-policies --type managed: Managed-CachingOptimized"

done_ok
