#!/usr/bin/env bash
# compat/awscli_sign.sh: public keys, a key group and signed URLs with the
# AWS CLI, unmodified: create-public-key, create-key-group, a distribution
# trusting the group, and `aws cloudfront sign` URLs the edge must admit or
# refuse as CloudFront does. Run by compat/run.sh (suite awscli-sign), which
# sets OPENFRONT_ENDPOINT and OPENFRONT_EDGE_ENDPOINT; it skips (exit 0,
# saying why) where the CLI or openssl is missing.
set -euo pipefail
AWS=${AWS_CLI:-}
if [[ -z $AWS ]]; then
	if [[ -x /usr/bin/aws ]]; then AWS=/usr/bin/aws; else AWS=$(command -v aws || true); fi
fi
[[ -n $AWS ]] || { echo "SKIP awscli-sign: no AWS CLI (apt-get install awscli)" | tee -a "${COMPAT_SKIPS:-/dev/null}"; exit 0; }
echo "awscli-sign: $AWS: $("$AWS" --version 2>&1)"
command -v openssl >/dev/null || { echo "SKIP awscli-sign: openssl is not installed" | tee -a "${COMPAT_SKIPS:-/dev/null}"; exit 0; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
openssl genrsa -out "$T/key.pem" 2048 2>/dev/null
openssl rsa -in "$T/key.pem" -pubout -out "$T/pub.pem" 2>/dev/null
cf() { "$AWS" --endpoint-url "$OPENFRONT_ENDPOINT" --output json cloudfront "$@"; }
ref=cli-$RANDOM$RANDOM

kid=$(cf create-public-key --public-key-config "CallerReference=$ref,Name=$ref,EncodedKey=$(cat "$T/pub.pem")" --query PublicKey.Id --output text)
[[ $kid =~ ^K[A-Z0-9]{13}$ ]] || { echo "FAIL: public key Id $kid"; exit 1; }
gid=$(cf create-key-group --key-group-config "Name=$ref,Items=$kid" --query KeyGroup.Id --output text)
cat >"$T/dist.json" <<JSON
{"CallerReference":"$ref","Comment":"signed","Enabled":true,
 "Origins":{"Quantity":1,"Items":[{"Id":"web","DomainName":"127.0.0.1",
  "CustomOriginConfig":{"HTTPPort":9,"HTTPSPort":443,"OriginProtocolPolicy":"http-only"}}]},
 "DefaultCacheBehavior":{"TargetOriginId":"web","ViewerProtocolPolicy":"allow-all",
  "CachePolicyId":"658327ea-f89d-4fab-a63d-7e88639e58f6",
  "TrustedKeyGroups":{"Enabled":true,"Quantity":1,"Items":["$gid"]}}}
JSON
host=$(cf create-distribution --distribution-config "file://$T/dist.json" --query Distribution.DomainName --output text)
id=${host%%.*}
cf wait distribution-deployed --id "${id^^}" 2>/dev/null || true

status() { # status URL: the edge's status for the URL, asked with its Host
	local path=${1#http://$host}
	curl -s -o "$T/body" -w '%{http_code}' -H "Host: $host" "$OPENFRONT_EDGE_ENDPOINT$path"
}
fail=0
expect() { # expect STATUS CODE URL WHAT
	local got
	got=$(status "$3")
	if [[ $got != "$1" ]] || { [[ -n $2 ]] && ! grep -q "<Code>$2</Code>" "$T/body"; }; then
		echo "FAIL $4: $got $(cat "$T/body"), want $1 $2"
		fail=1
	else
		echo "ok   $4: $got $2"
	fi
}
soon=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%S)
past=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S)
sign() { "$AWS" cloudfront sign --key-pair-id "$kid" --private-key "file://$T/key.pem" --url "$@"; }
# The origin (port 9) is down: an admitted request gets its 502.
expect 502 "" "$(sign "http://$host/a.txt" --date-less-than "$soon")" "canned signed URL"
expect 502 "" "$(sign "http://$host/a.txt?x=1" --date-less-than "$soon" --ip-address 127.0.0.1/32)" "custom policy, this address"
expect 403 AccessDenied "$(sign "http://$host/a.txt" --date-less-than "$soon" --ip-address 192.0.2.0/24)" "custom policy, another address"
expect 403 AccessDenied "$(sign "http://$host/a.txt" --date-less-than "$past")" "expired"
expect 403 MissingKey "http://$host/a.txt" "unsigned"
u=$(sign "http://$host/a.txt" --date-less-than "$soon")
expect 403 AccessDenied "${u/a.txt/b.txt}" "another path"
expect 403 InvalidKey "${u/Key-Pair-Id=$kid/Key-Pair-Id=KUNKNOWN000000}" "unknown key"
exit $fail
