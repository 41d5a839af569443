#!/usr/bin/env bash
# compat/awscli.sh: openfront compatibility scenarios driven by the AWS CLI,
# unmodified: Debian's package `awscli` (/usr/bin/aws) when installed, else
# the `aws` on PATH, or AWS_CLI=/path/to/aws. Works with CLI v1 and v2.
#
# Run by compat/run.sh, which starts the servers and sets:
#   OPENFRONT_ENDPOINT         open mode, --invalidation-delay 0
#   OPENFRONT_DELAY_ENDPOINT   open mode, --invalidation-delay 2s
#   OPENFRONT_DISTRIBUTION_ID  a distribution of both
set -euo pipefail

: "${OPENFRONT_ENDPOINT:?is not set; run compat/run.sh, which starts the servers}"
: "${OPENFRONT_DELAY_ENDPOINT:?is not set; run compat/run.sh, which starts the servers}"
: "${OPENFRONT_DISTRIBUTION_ID:?is not set; run compat/run.sh, which starts the servers}"
EP=$OPENFRONT_ENDPOINT
DIST=$OPENFRONT_DISTRIBUTION_ID
PYTHON=${PYTHON:-python3}

AWS=${AWS_CLI:-}
if [[ -z $AWS ]]; then
	if [[ -x /usr/bin/aws ]]; then AWS=/usr/bin/aws; else AWS=$(command -v aws || true); fi
fi
[[ -n $AWS ]] || { echo "awscli.sh: no AWS CLI (apt-get install awscli)" >&2; exit 1; }

# Dummy keys: the open-mode servers accept any. Nothing of this machine's
# AWS configuration may leak in.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIACOMPATDUMMY00000}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-compat-dummy-secret}
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN

version=$("$AWS" --version 2>&1)
echo "awscli.sh: $AWS: $version"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passes=0

fail() {
	echo "awscli.sh: FAIL: $*" >&2
	exit 1
}
ok() {
	passes=$((passes + 1))
	echo "ok $passes - $*"
}

# cf ENDPOINT ARGS...: `aws cloudfront` with JSON output.
cf() {
	local ep=$1
	shift
	"$AWS" cloudfront --endpoint-url "$ep" --output json "$@"
}

# check JSON PYTHON-ASSERTIONS...: runs Python with `d` the parsed JSON and
# `EP`, `DIST` set; each argument is one statement (use assert).
check() {
	local json=$1
	shift
	local code=""
	for stmt in "$@"; do code+="$stmt"$'\n'; done
	EP=$EP DIST=$DIST "$PYTHON" -c '
import json, os, sys
d = json.loads(sys.argv[1])
EP, DIST = os.environ["EP"], os.environ["DIST"]
try:
    exec(sys.argv[2])
except Exception:
    import traceback
    sys.stderr.write("%s\non: %s\n" % (traceback.format_exc(), json.dumps(d, indent=1)))
    sys.exit(1)
' "$json" "$code" || fail "unexpected JSON from the CLI (see above)"
}

# field JSON EXPR: prints a value of the JSON (d is the parsed JSON).
field() {
	"$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# expect_error CODE ARGS...: `aws cloudfront ARGS` must exit non-zero and
# name CODE on stderr.
expect_error() {
	local code=$1
	shift
	local rc=0
	"$AWS" cloudfront --output json "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	if [[ $rc -eq 0 ]]; then
		cat "$TMP/out" >&2
		fail "aws cloudfront $* succeeded; want error $code"
	fi
	if ! grep -q "($code)" "$TMP/err"; then
		cat "$TMP/err" >&2
		fail "aws cloudfront $* exited $rc without naming error ($code) on stderr"
	fi
	echo "   exit $rc: $(head -c 300 "$TMP/err" | tr -s '\n' ' ')"
}

# 1. create-invalidation with --paths: 2 paths, InProgress, Location.
out=$(cf "$EP" create-invalidation --distribution-id "$DIST" --paths /a /b)
check "$out" \
	'assert d["Location"].startswith(EP + "/"), d["Location"]' \
	'inv = d["Invalidation"]' \
	'assert d["Location"] == EP + "/2020-05-31/distribution/" + DIST + "/invalidation/" + inv["Id"], d["Location"]' \
	'assert inv["Status"] == "InProgress", inv["Status"]' \
	'assert inv["InvalidationBatch"]["Paths"] == {"Quantity": 2, "Items": ["/a", "/b"]}' \
	'assert inv["InvalidationBatch"]["CallerReference"], "the CLI sets a CallerReference"' \
	'assert inv["CreateTime"][:2] == "20", inv["CreateTime"]'
ID1=$(field "$out" 'd["Invalidation"]["Id"]')
CREATED1=$(field "$out" 'd["Invalidation"]["CreateTime"]')
ok "create-invalidation --paths /a /b -> $ID1 InProgress, Location under $EP"

# 2. get-invalidation returns the same invalidation.
out=$(cf "$EP" get-invalidation --distribution-id "$DIST" --id "$ID1")
check "$out" \
	'inv = d["Invalidation"]' \
	"assert inv['Id'] == '$ID1', inv['Id']" \
	"assert inv['CreateTime'] == '$CREATED1', inv['CreateTime']" \
	'assert inv["Status"] in ("InProgress", "Completed"), inv["Status"]' \
	'assert inv["InvalidationBatch"]["Paths"] == {"Quantity": 2, "Items": ["/a", "/b"]}'
ok "get-invalidation $ID1"

# 3. --invalidation-batch with an explicit CallerReference, sent twice: the
#    replay returns the same invalidation.
ref="compat-awscli-$$-$RANDOM$RANDOM"
batch='{"Paths":{"Quantity":2,"Items":["/c/*","/d.html"]},"CallerReference":"'$ref'"}'
out=$(cf "$EP" create-invalidation --distribution-id "$DIST" --invalidation-batch "$batch")
ID2=$(field "$out" 'd["Invalidation"]["Id"]')
check "$out" "assert d['Invalidation']['InvalidationBatch']['CallerReference'] == '$ref'"
out=$(cf "$EP" create-invalidation --distribution-id "$DIST" --invalidation-batch "$batch")
check "$out" "assert d['Invalidation']['Id'] == '$ID2', 'replay made a new invalidation: ' + d['Invalidation']['Id']"
ok "create-invalidation --invalidation-batch replayed -> same Id $ID2"

# 4. list-invalidations: the CLI follows NextMarker itself; with
#    --page-size 1 every page holds one item.
ID3=$(cf "$EP" create-invalidation --distribution-id "$DIST" --paths /e --query Invalidation.Id --output text)
out=$(cf "$EP" list-invalidations --distribution-id "$DIST" --page-size 1)
check "$out" \
	'ids = [s["Id"] for s in d["InvalidationList"]["Items"]]' \
	"assert ids == ['$ID3', '$ID2', '$ID1'], ids" \
	'assert all(s["Status"] in ("InProgress", "Completed") for s in d["InvalidationList"]["Items"])'
out=$(cf "$EP" list-invalidations --distribution-id "$DIST" --no-paginate)
check "$out" \
	'lst = d["InvalidationList"]' \
	"assert [s['Id'] for s in lst['Items']] == ['$ID3', '$ID2', '$ID1'], lst" \
	'assert lst["IsTruncated"] is False and lst["Quantity"] == 3, lst'
out=$(cf "$EP" list-invalidations --distribution-id "$DIST" --max-items 2 --page-size 1)
check "$out" \
	"assert [s['Id'] for s in d['InvalidationList']['Items']] == ['$ID3', '$ID2']" \
	'assert d.get("NextToken"), "--max-items 2 of 3 must give a NextToken"'
token=$(field "$out" 'd["NextToken"]')
out=$(cf "$EP" list-invalidations --distribution-id "$DIST" --starting-token "$token")
check "$out" "assert [s['Id'] for s in d['InvalidationList']['Items']] == ['$ID1']"
ok "list-invalidations: newest first, one per page, --max-items/--starting-token"

# 5. wait invalidation-completed (no delay: done at once).
start=$SECONDS
"$AWS" cloudfront --endpoint-url "$EP" wait invalidation-completed --distribution-id "$DIST" --id "$ID1"
out=$(cf "$EP" get-invalidation --distribution-id "$DIST" --id "$ID1")
check "$out" 'assert d["Invalidation"]["Status"] == "Completed", d["Invalidation"]["Status"]'
ok "wait invalidation-completed $ID1 ($((SECONDS - start))s)"

# 6. With --invalidation-delay 2s the waiter really waits: it polls every
#    20 seconds, as it does against CloudFront.
DEP=$OPENFRONT_DELAY_ENDPOINT
out=$(cf "$DEP" create-invalidation --distribution-id "$DIST" --paths '/slow/*')
SLOW=$(field "$out" 'd["Invalidation"]["Id"]')
out=$(cf "$DEP" get-invalidation --distribution-id "$DIST" --id "$SLOW")
check "$out" 'assert d["Invalidation"]["Status"] == "InProgress", "not InProgress right after creation with a 2s delay"'
start=$SECONDS
"$AWS" cloudfront --endpoint-url "$DEP" wait invalidation-completed --distribution-id "$DIST" --id "$SLOW"
waited=$((SECONDS - start))
out=$(cf "$DEP" get-invalidation --distribution-id "$DIST" --id "$SLOW")
check "$out" 'assert d["Invalidation"]["Status"] == "Completed", d["Invalidation"]["Status"]'
[[ $waited -ge 2 ]] || fail "the waiter returned after ${waited}s, before the 2s delay was over"
ok "wait invalidation-completed with --invalidation-delay 2s ($waited s)"

# 7. Errors: non-zero exit, the CloudFront error code on stderr.
expect_error NoSuchInvalidation --endpoint-url "$EP" get-invalidation --distribution-id "$DIST" --id INOSUCHINVALID
ok "get-invalidation of an unknown Id -> NoSuchInvalidation"
expect_error NoSuchDistribution --endpoint-url "$EP" create-invalidation --distribution-id ENOSUCHDIST0001 --paths /a
ok "create-invalidation on an unknown distribution -> NoSuchDistribution"
expect_error NoSuchDistribution --endpoint-url "$EP" list-invalidations --distribution-id ENOSUCHDIST0001
ok "list-invalidations on an unknown distribution -> NoSuchDistribution"
expect_error InvalidArgument --endpoint-url "$EP" create-invalidation --distribution-id "$DIST" --paths no-leading-slash
ok "create-invalidation of a path without a leading / -> InvalidArgument"
expect_error InvalidationBatchAlreadyExists --endpoint-url "$EP" create-invalidation --distribution-id "$DIST" \
	--invalidation-batch '{"Paths":{"Quantity":1,"Items":["/other"]},"CallerReference":"'$ref'"}'
ok "create-invalidation reusing a CallerReference with other paths -> InvalidationBatchAlreadyExists"
expect_error InconsistentQuantities --endpoint-url "$EP" create-invalidation --distribution-id "$DIST" \
	--invalidation-batch '{"Paths":{"Quantity":3,"Items":["/q1","/q2"]},"CallerReference":"compat-awscli-qty-'$$'"}'
ok "create-invalidation with Quantity 3 and 2 Items -> InconsistentQuantities"

echo "awscli.sh: $passes passed, 0 failed"
