#!/usr/bin/env bash
# compat/awscli_functions.sh: openfront's CloudFront Functions driven by
# the AWS CLI, unmodified (see awscli_lib.sh for which CLI): create,
# describe both stages, get the code, update, publish, list, test, delete,
# and their errors. Every expectation is CloudFront's behaviour.
#
# Run by compat/run.sh, which starts the server and sets OPENFRONT_ENDPOINT.
. "$(dirname "${BASH_SOURCE[0]}")/awscli_lib.sh" OPENFRONT_ENDPOINT
export EP=$OPENFRONT_ENDPOINT

NAME=cli-fn-$$
cat >"$TMP/fn.js" <<'JS'
function handler(event) {
    var request = event.request;
    console.log('cli ' + request.uri);
    request.headers['x-cli'] = {value: 'yes'};
    return request;
}
JS
CONFIG='{"Comment":"made by the CLI","Runtime":"cloudfront-js-2.0"}'

out=$(cf create-function --name "$NAME" --function-config "$CONFIG" --function-code "fileb://$TMP/fn.js")
export NAME
check "$out" \
	'assert d["ETag"], d' \
	's = d["FunctionSummary"]' \
	'assert s["Name"] == E["NAME"] and s["Status"] == "UNPUBLISHED", s' \
	'assert s["FunctionMetadata"]["Stage"] == "DEVELOPMENT", s' \
	'assert s["FunctionMetadata"]["FunctionARN"].endswith(":function/" + E["NAME"]), s' \
	'assert d["Location"].endswith("/2020-05-31/function/" + s["FunctionMetadata"]["FunctionARN"]), d["Location"]'
ETAG=$(field "$out" 'd["ETag"]')
ok "create-function"

expect_error FunctionAlreadyExists create-function --name "$NAME" --function-config "$CONFIG" --function-code "fileb://$TMP/fn.js"
head -c 10241 /dev/zero | tr '\0' '/' >"$TMP/big.js"
expect_error FunctionSizeLimitExceeded create-function --name "$NAME-big" --function-config "$CONFIG" --function-code "fileb://$TMP/big.js"
printf 'function handler(e) {' >"$TMP/bad.js"
expect_error InvalidArgument create-function --name "$NAME-bad" --function-config "$CONFIG" --function-code "fileb://$TMP/bad.js"
ok "create-function errors"

out=$(cf describe-function --name "$NAME")
[[ $(field "$out" 'd["ETag"]') == "$ETAG" ]] || fail "describe-function ETag differs from create's"
expect_error NoSuchFunctionExists describe-function --name "$NAME" --stage LIVE
cf get-function --name "$NAME" "$TMP/got.js" >"$TMP/get.json"
cmp -s "$TMP/fn.js" "$TMP/got.js" || fail "get-function returned other code"
check "$(cat "$TMP/get.json")" 'assert d["ContentType"] == "application/octet-stream", d' 'assert d["ETag"], d'
ok "describe-function, get-function"

sed 's/yes/updated/' "$TMP/fn.js" >"$TMP/fn2.js"
expect_error PreconditionFailed update-function --name "$NAME" --if-match "${ETAG}X" --function-config "$CONFIG" --function-code "fileb://$TMP/fn2.js"
out=$(cf update-function --name "$NAME" --if-match "$ETAG" --function-config "$CONFIG" --function-code "fileb://$TMP/fn2.js")
NEW=$(field "$out" 'd.get("ETag", "")')
[[ -n $NEW && $NEW != "$ETAG" ]] || fail "update-function: ETag '$NEW' (was $ETAG)"
ETAG=$NEW
ok "update-function"

expect_error PreconditionFailed publish-function --name "$NAME" --if-match EWRONG
out=$(cf publish-function --name "$NAME" --if-match "$ETAG")
check "$out" 's = d["FunctionSummary"]' 'assert s["Status"] == "UNASSOCIATED" and s["FunctionMetadata"]["Stage"] == "LIVE", s'
LIVE=$(field "$(cf describe-function --name "$NAME" --stage LIVE)" 'd["ETag"]')
ok "publish-function"

out=$(cf list-functions)
check "$out" \
	'items = [(f["Name"], f["FunctionMetadata"]["Stage"]) for f in d["FunctionList"]["Items"]]' \
	'assert (E["NAME"], "DEVELOPMENT") in items and (E["NAME"], "LIVE") in items, items'
out=$(cf list-functions --stage LIVE)
check "$out" 'assert all(f["FunctionMetadata"]["Stage"] == "LIVE" for f in d["FunctionList"]["Items"]), d'
ok "list-functions"

printf '%s' '{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"198.51.100.1"},"request":{"method":"GET","uri":"/a","querystring":{},"headers":{},"cookies":{}}}' >"$TMP/event.json"
out=$(cf test-function --name "$NAME" --if-match "$LIVE" --stage LIVE --event-object "fileb://$TMP/event.json")
check "$out" \
	'r = d["TestResult"]' \
	'assert r.get("FunctionErrorMessage", "") == "", r' \
	'assert json.loads(r["FunctionOutput"])["request"]["headers"]["x-cli"] == {"value": "updated"}, r' \
	'assert r["FunctionExecutionLogs"] == ["cli /a"], r' \
	'assert 0 <= int(r["ComputeUtilization"]) <= 100, r'
ok "test-function"

expect_error PreconditionFailed delete-function --name "$NAME" --if-match "$LIVE"
cf delete-function --name "$NAME" --if-match "$ETAG"
expect_error NoSuchFunctionExists get-function --name "$NAME" "$TMP/none.js"
ok "delete-function"

done_ok
