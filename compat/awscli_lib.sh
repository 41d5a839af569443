# compat/awscli_lib.sh: what the AWS CLI suites (awscli.sh,
# awscli_distribution.sh) share; sourced by them, not run. It finds the CLI
# (Debian's package `awscli`, /usr/bin/aws, when installed, else the `aws`
# on PATH, or AWS_CLI=/path/to/aws), keeps this machine's AWS configuration
# out, and defines the helpers below. Messages name the suite ($SUITE).
#
# A suite sources it with the variables it needs from compat/run.sh:
#   . "$(dirname "${BASH_SOURCE[0]}")/awscli_lib.sh" OPENFRONT_ENDPOINT ...
set -euo pipefail

SUITE=$(basename "$0")
PYTHON=${PYTHON:-python3}

# require VAR...: each variable (set by compat/run.sh) must be set.
require() {
	local v
	for v in "$@"; do
		if [[ -z ${!v:-} ]]; then
			echo "$SUITE: $v is not set; run compat/run.sh, which starts the servers" >&2
			exit 2
		fi
	done
}
require "$@"

AWS=${AWS_CLI:-}
if [[ -z $AWS ]]; then
	if [[ -x /usr/bin/aws ]]; then AWS=/usr/bin/aws; else AWS=$(command -v aws || true); fi
fi
[[ -n $AWS ]] || { echo "$SUITE: no AWS CLI (apt-get install awscli)" >&2; exit 1; }

# Dummy keys: the open-mode servers accept any. Nothing of this machine's
# AWS configuration may leak in.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIACOMPATDUMMY00000}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-compat-dummy-secret}
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN

echo "$SUITE: $AWS: $("$AWS" --version 2>&1)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passes=0

fail() {
	echo "$SUITE: FAIL: $*" >&2
	exit 1
}
ok() {
	passes=$((passes + 1))
	echo "ok $passes - $*"
}
# done_ok: the last line of a suite that got to its end.
done_ok() {
	echo "$SUITE: $passes passed, 0 failed"
}

# cf_at ENDPOINT ARGS...: `aws cloudfront` against ENDPOINT, JSON output.
cf_at() {
	local ep=$1
	shift
	"$AWS" cloudfront --endpoint-url "$ep" --output json "$@"
}

# cf ARGS...: cf_at the suite's main server, $EP.
cf() {
	cf_at "$EP" "$@"
}

# check JSON PYTHON-STATEMENTS...: runs Python with `d` the parsed JSON,
# `E` the environment (exported variables) and `EP`, `DIST` its values of
# those names; each argument is one statement (use assert). `load(name)`
# reads $TMP/name.json (see save).
check() {
	local json=$1
	shift
	local code=""
	for stmt in "$@"; do code+="$stmt"$'\n'; done
	TMP=$TMP "$PYTHON" -c '
import json, os, sys
d = json.loads(sys.argv[1])
E = os.environ
EP, DIST = E.get("EP"), E.get("DIST")
def load(name):
    with open(os.path.join(E["TMP"], name + ".json")) as f:
        return json.load(f)
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

# save NAME JSON: keeps JSON as $TMP/NAME.json.
save() {
	printf '%s' "$2" >"$TMP/$1.json"
}

# expect_error CODE ARGS...: `cf ARGS` must exit non-zero and name the
# CloudFront error code on stderr.
expect_error() {
	local code=$1
	shift
	local rc=0
	cf "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
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
