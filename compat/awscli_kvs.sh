#!/usr/bin/env bash
# compat/awscli_kvs.sh: openfront's KeyValueStores driven by the AWS CLI,
# unmodified: `aws cloudfront create-key-value-store`, ... and `aws
# cloudfront-keyvaluestore put-key`, ..., which the CLI signs with SigV4A
# (through awscrt). The CLI must know the cloudfront-keyvaluestore service
# (Debian's awscli 2.9.19 predates it; AWS_CLI=/path/to/aws chooses one).
# Every expectation is CloudFront's behaviour.
#
# The CLI puts the store's account Id before the endpoint's host, which no
# resolver here knows: data-plane commands go through openfront itself as
# an HTTP proxy (HTTP_PROXY), as a wildcard DNS name would.
#
# Run by compat/run.sh, which starts the server (credentials on) and sets
# OPENFRONT_AUTH_ENDPOINT, COMPAT_FULL_KEY_ID and COMPAT_FULL_SECRET.
if [[ -z ${AWS_CLI:-} ]]; then
	for c in /usr/bin/aws "$(command -v aws || true)"; do
		if [[ -x $c ]] && "$c" cloudfront-keyvaluestore help >/dev/null 2>&1; then
			AWS_CLI=$c
			break
		fi
	done
fi
export AWS_CLI
. "$(dirname "${BASH_SOURCE[0]}")/awscli_lib.sh" OPENFRONT_AUTH_ENDPOINT COMPAT_FULL_KEY_ID COMPAT_FULL_SECRET
"$AWS" cloudfront-keyvaluestore help >/dev/null 2>&1 || fail "$AWS does not know cloudfront-keyvaluestore (set AWS_CLI)"
export EP=$OPENFRONT_AUTH_ENDPOINT
export AWS_ACCESS_KEY_ID=$COMPAT_FULL_KEY_ID AWS_SECRET_ACCESS_KEY=$COMPAT_FULL_SECRET

# kvs ARGS...: `aws cloudfront-keyvaluestore` through the server as a proxy.
kvs() {
	# run.sh sets NO_PROXY=127.0.0.1, which matches 000000000000.127.0.0.1.
	NO_PROXY= no_proxy= HTTP_PROXY=$EP "$AWS" cloudfront-keyvaluestore --endpoint-url "$EP" --output json "$@"
}

# kvs_error CODE ARGS...: `kvs ARGS` must fail naming CODE.
kvs_error() {
	local code=$1 rc=0
	shift
	kvs "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[[ $rc -ne 0 ]] || fail "aws cloudfront-keyvaluestore $* succeeded; want $code"
	grep -q "($code)" "$TMP/err" || { cat "$TMP/err" >&2; fail "aws cloudfront-keyvaluestore $* did not name ($code)"; }
}

name=cli-kvs-$RANDOM$RANDOM
out=$(cf create-key-value-store --name "$name" --comment cli)
check "$out" 'assert d["KeyValueStore"]["Status"] == "READY", d' 'assert d["KeyValueStore"]["Comment"] == "cli", d'
arn=$(field "$out" 'd["KeyValueStore"]["ARN"]')
ok "create-key-value-store: $arn"
expect_error EntityAlreadyExists create-key-value-store --name "$name"
ok "create-key-value-store of a taken name: EntityAlreadyExists"

out=$(kvs describe-key-value-store --kvs-arn "$arn")
check "$out" 'assert d["ItemCount"] == 0 and d["Status"] == "READY", d'
[[ $(field "$out" 'd["KvsARN"]') == "$arn" ]] || fail "describe-key-value-store: KvsARN is not $arn"
etag=$(field "$out" 'd["ETag"]')
ok "describe-key-value-store (SigV4A)"

out=$(kvs put-key --kvs-arn "$arn" --key greeting --value hello --if-match "$etag")
check "$out" 'assert d["ItemCount"] == 1 and d["TotalSizeInBytes"] == 13, d'
etag=$(field "$out" 'd["ETag"]')
ok "put-key"
out=$(kvs get-key --kvs-arn "$arn" --key greeting)
check "$out" 'assert d["Value"] == "hello", d'
ok "get-key"
kvs_error ConflictException put-key --kvs-arn "$arn" --key k --value v --if-match STALE
ok "put-key with a stale If-Match: ConflictException"
out=$(kvs update-keys --kvs-arn "$arn" --if-match "$etag" --puts '[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]' --deletes '[{"Key":"greeting"}]')
check "$out" 'assert d["ItemCount"] == 2, d'
etag=$(field "$out" 'd["ETag"]')
ok "update-keys"
out=$(kvs list-keys --kvs-arn "$arn")
check "$out" 'assert [i["Key"] for i in d["Items"]] == ["a", "b"], d'
ok "list-keys"
out=$(kvs delete-key --kvs-arn "$arn" --key a --if-match "$etag")
check "$out" 'assert d["ItemCount"] == 1, d'
ok "delete-key"
kvs_error ResourceNotFoundException get-key --kvs-arn "$arn" --key a
ok "get-key of a deleted key: ResourceNotFoundException"
AWS_SECRET_ACCESS_KEY=wrong kvs_error InvalidSignatureException get-key --kvs-arn "$arn" --key b
ok "a wrong secret: InvalidSignatureException"

etag=$(field "$(cf describe-key-value-store --name "$name")" 'd["ETag"]')
cf delete-key-value-store --name "$name" --if-match "$etag" >/dev/null
expect_error EntityNotFound describe-key-value-store --name "$name"
ok "delete-key-value-store"
done_ok
