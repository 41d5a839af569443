#!/usr/bin/env bash
# compat/run.sh: openfront's compatibility scenarios. Three real, unmodified
# AWS clients (boto3, the AWS CLI, the AWS SDK for JavaScript v3) drive the
# real openfront binary over loopback; each suite exits non-zero on any
# difference from CloudFront's behaviour.
#
#   compat/run.sh                 # every suite (what `make compat` runs)
#   compat/run.sh boto3 js        # some of them: boto3, awscli, js (invalidations),
#                                 # boto3-dist, awscli-dist, js-dist (distributions),
#                                 # boto3-pol (policies, origin access),
#                                 # boto3-kvs (KeyValueStores, both planes, SigV4A,
#                                 # boto3 and the AWS CLI),
#                                 # boto3-lifecycles, awscli-lifecycles, js-lifecycles
#                                 # (one lifecycle of each policy kind and an OAC
#                                 # in every client)
#                                 # boto3-keys, awscli-sign (public keys, key
#                                 # groups, signed URLs at the edge)
#                                 # boto3-fn, awscli-fn, js-fn (CloudFront Functions)
#   OPENFRONT_BIN=/path/openfront compat/run.sh   # test that binary, no build
#
# Each suite gets its own servers, on ports the OS picks (--api-addr
# 127.0.0.1:0), each with its own temporary --data-dir; all are stopped on
# exit. Set KEEP=1 to keep the servers' logs under the printed work dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
COMPAT=$ROOT/compat
BIN=${OPENFRONT_BIN:-}
PYTHON=${PYTHON:-python3}
NODE=${NODE:-node}
ALL_SUITES=(boto3 awscli js boto3-dist awscli-dist js-dist boto3-pol boto3-lifecycles awscli-lifecycles js-lifecycles boto3-keys awscli-sign boto3-kvs boto3-fn awscli-fn js-fn)
SUITES=("$@")
[[ ${#SUITES[@]} -gt 0 ]] || SUITES=("${ALL_SUITES[@]}")
for s in "${SUITES[@]}"; do
	case $s in boto3 | awscli | js | boto3-dist | awscli-dist | js-dist | boto3-pol | boto3-lifecycles | awscli-lifecycles | js-lifecycles | boto3-keys | awscli-sign | boto3-kvs | boto3-fn | awscli-fn | js-fn) ;; *) echo "compat: unknown suite $s (known: ${ALL_SUITES[*]})" >&2; exit 2 ;; esac
done

if [[ -z $BIN ]]; then
	BIN=$ROOT/bin/openfront
	echo "compat: building bin/openfront"
	go build -o "$BIN" ./cmd/openfront
fi
[[ -x $BIN ]] || { echo "compat: $BIN is not an executable" >&2; exit 2; }
echo "compat: testing $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/openfront-compat.XXXXXX")
# Clients append a "SKIP ..." line here for each behaviour where openfront
# is known to differ from CloudFront (the test asserts CloudFront's
# behaviour and is skipped); the summary repeats them.
export COMPAT_SKIPS=$WORK/skips
PIDS=()
NAMES=()
CLIENT_PID=

stop_servers() {
	local i pid
	for i in "${!PIDS[@]}"; do
		pid=${PIDS[$i]}
		kill -TERM "$pid" 2>/dev/null || continue
	done
	for i in "${!PIDS[@]}"; do
		pid=${PIDS[$i]}
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			echo "compat: server ${NAMES[$i]} (pid $pid) ignored SIGTERM for 5s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
	NAMES=()
}

cleanup() {
	if [[ -n $CLIENT_PID ]]; then
		kill -TERM "$CLIENT_PID" 2>/dev/null || true
		wait "$CLIENT_PID" 2>/dev/null || true
	fi
	stop_servers
	if [[ ${KEEP:-} == 1 ]]; then
		echo "compat: logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The clients must see nothing of this machine's AWS setup, and must reach
# the servers directly.
export AWS_CONFIG_FILE=$WORK/aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials
export AWS_ACCESS_KEY_ID=AKIACOMPATDUMMY00000 AWS_SECRET_ACCESS_KEY=compat-dummy-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_CLOUDFRONT AWS_CA_BUNDLE
unset OPENFRONT_ACCESS_KEY_ID OPENFRONT_SECRET_ACCESS_KEY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# start_server NAME [VAR=VALUE...] -- [serve flags...]
# Starts `openfront serve` on a free loopback port with its own data dir and
# sets SERVER_URL to the endpoint it printed.
start_server() {
	local name=$1
	shift
	local envs=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	[[ $# -gt 0 ]] && shift
	local dir=$WORK/$name
	mkdir -p "$dir/data"
	# Made before the server starts: the loop below reads it at once.
	: >"$dir/stdout"
	env "${envs[@]}" "$BIN" serve --data-dir "$dir/data" --api-addr 127.0.0.1:0 --edge-addr 127.0.0.1:0 "$@" >"$dir/stdout" 2>"$dir/stderr" &
	local pid=$!
	PIDS+=("$pid")
	NAMES+=("$name")
	SERVER_URL=
	for _ in $(seq 100); do
		SERVER_URL=$(sed -n 's|^openfront API listening on \(http://127\.0\.0\.1:[0-9][0-9]*\)$|\1|p' "$dir/stdout")
		SERVER_EDGE_URL=$(sed -n 's|^openfront edge listening on \(http://127\.0\.0\.1:[0-9][0-9]*\)$|\1|p' "$dir/stdout")
		if [[ -n $SERVER_URL ]]; then
			echo "compat: server $name (pid $pid) at $SERVER_URL: serve $*"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "compat: server $name did not print its address; its stdout and stderr:" >&2
	cat "$dir/stdout" "$dir/stderr" >&2
	return 1
}

# run_client CMD...: runs a suite's client, at most 10 minutes. It runs in
# the background so that a SIGINT/SIGTERM to this script is handled at once
# (bash defers traps while a foreground child runs); cleanup stops it.
run_client() {
	timeout 600 "$@" &
	CLIENT_PID=$!
	local rc=0
	wait "$CLIENT_PID" || rc=$?
	CLIENT_PID=
	return $rc
}

# check_servers: every server is still up and logged no error or panic.
check_servers() {
	local i ok=0
	for i in "${!PIDS[@]}"; do
		if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
			echo "compat: server ${NAMES[$i]} died during the suite" >&2
			ok=1
		fi
		if grep -E -q 'level=ERROR|^panic:|DATA RACE' "$WORK/${NAMES[$i]}/stderr"; then
			echo "compat: server ${NAMES[$i]} logged errors:" >&2
			grep -E 'level=ERROR|^panic:|DATA RACE' "$WORK/${NAMES[$i]}/stderr" | head -20 >&2
			ok=1
		fi
	done
	return $ok
}

show_server_logs() {
	local n
	for n in "${NAMES[@]}"; do
		echo "----- server $n stderr (last 40 lines) -----" >&2
		tail -n 40 "$WORK/$n/stderr" >&2
	done
}

EXAMPLE_CONFIG=$ROOT/examples/openfront.yaml
DIST=EDFDVBD6EXAMPLE # the distribution of examples/openfront.yaml

suite_boto3() {
	"$PYTHON" -c 'import boto3' || {
		echo "compat: $PYTHON cannot import boto3 (Debian: apt-get install python3-boto3)" >&2
		return 1
	}
	start_server boto3-open -- --config "$EXAMPLE_CONFIG" || return 1
	local open=$SERVER_URL
	start_server boto3-delay -- --config "$EXAMPLE_CONFIG" --invalidation-delay 2s || return 1
	local delay=$SERVER_URL
	start_server boto3-auth OPENFRONT_ACCESS_KEY_ID=AKIACOMPATFULL000001 OPENFRONT_SECRET_ACCESS_KEY=full/K7MDENG+bPxRfiCYCOMPATKEY \
		-- --config "$COMPAT/openfront-auth.yaml" || return 1
	local auth=$SERVER_URL
	OPENFRONT_ENDPOINT=$open OPENFRONT_DELAY_ENDPOINT=$delay OPENFRONT_AUTH_ENDPOINT=$auth \
		OPENFRONT_DISTRIBUTION_ID=$DIST \
		COMPAT_AUTH_DIST=EDFDVBD6EXAMPLE COMPAT_AUTH_OTHER_DIST=EOTHERDIST0001 \
		COMPAT_FULL_KEY_ID=AKIACOMPATFULL000001 COMPAT_FULL_SECRET=full/K7MDENG+bPxRfiCYCOMPATKEY \
		COMPAT_LIMITED_KEY_ID=AKIACOMPATLIMITED01 COMPAT_LIMITED_SECRET=limited/K7MDENG+bPxRfiCYCOMPATKEY \
		run_client "$PYTHON" "$COMPAT/boto3_test.py"
}

suite_awscli() {
	start_server awscli-open -- --config "$EXAMPLE_CONFIG" || return 1
	local open=$SERVER_URL
	start_server awscli-delay -- --config "$EXAMPLE_CONFIG" --invalidation-delay 2s || return 1
	OPENFRONT_ENDPOINT=$open OPENFRONT_DELAY_ENDPOINT=$SERVER_URL OPENFRONT_DISTRIBUTION_ID=$DIST \
		run_client bash "$COMPAT/awscli.sh"
}

suite_js() {
	if [[ ! -d $COMPAT/js/node_modules/@aws-sdk/client-cloudfront ]]; then
		echo "compat: installing compat/js dependencies (npm ci)"
		(cd "$COMPAT/js" && npm ci --no-audit --no-fund) || return 1
	fi
	# In memory: the store behind the API must not matter to a client.
	start_server js-memory -- --config "$EXAMPLE_CONFIG" --memory || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL OPENFRONT_DISTRIBUTION_ID=$DIST \
		run_client "$NODE" "$COMPAT/js/cloudfront.mjs"
}

# The distribution suites: CreateDistribution, Get, GetConfig, Update,
# Delete, List, the deployed waiter and tagging. The file's distribution
# is there too, read-only through the API.
DIST_ALIAS=site.test # an alias of $DIST in examples/openfront.yaml

suite_boto3-dist() {
	"$PYTHON" -c 'import boto3' || {
		echo "compat: $PYTHON cannot import boto3 (Debian: apt-get install python3-boto3)" >&2
		return 1
	}
	start_server boto3-dist-open -- --config "$EXAMPLE_CONFIG" --deploy-delay 0s || return 1
	local open=$SERVER_URL
	start_server boto3-dist-delay -- --config "$EXAMPLE_CONFIG" --deploy-delay 2s || return 1
	OPENFRONT_ENDPOINT=$open OPENFRONT_DELAY_ENDPOINT=$SERVER_URL \
		OPENFRONT_DISTRIBUTION_ID=$DIST COMPAT_FILE_ALIAS=$DIST_ALIAS \
		run_client "$PYTHON" "$COMPAT/boto3_distribution_test.py"
}

# KeyValueStores: botocore signs the data plane with SigV4A, which needs
# awscrt. Without it in $PYTHON, Debian's python3-awscrt is used when its
# extension fits $PYTHON's ABI (a directory of links on PYTHONPATH, so that
# nothing else of dist-packages shadows $PYTHON's own packages).
suite_boto3-kvs() {
	local pp=${PYTHONPATH:-}
	if ! "$PYTHON" -c 'import awscrt' 2>/dev/null; then
		local crt=$WORK/awscrt-path
		mkdir -p "$crt"
		ln -sf /usr/lib/python3/dist-packages/awscrt "$crt/awscrt"
		ln -sf /usr/lib/python3/dist-packages/_awscrt*.so "$crt/" 2>/dev/null
		pp=$crt${pp:+:$pp}
		PYTHONPATH=$pp "$PYTHON" -c 'import awscrt, _awscrt' 2>/dev/null || {
			echo "compat: $PYTHON cannot import awscrt, which botocore needs for SigV4A (Debian: apt-get install python3-awscrt, for the same Python version)" >&2
			return 1
		}
	fi
	start_server boto3-kvs OPENFRONT_ACCESS_KEY_ID=AKIACOMPATFULL000001 OPENFRONT_SECRET_ACCESS_KEY=full/K7MDENG+bPxRfiCYCOMPATKEY \
		-- --config "$EXAMPLE_CONFIG" || return 1
	PYTHONPATH=$pp OPENFRONT_AUTH_ENDPOINT=$SERVER_URL \
		COMPAT_FULL_KEY_ID=AKIACOMPATFULL000001 COMPAT_FULL_SECRET=full/K7MDENG+bPxRfiCYCOMPATKEY \
		run_client "$PYTHON" "$COMPAT/boto3_kvs_test.py" || return 1
	# The AWS CLI, with the same awscrt.
	PYTHONPATH=$pp OPENFRONT_AUTH_ENDPOINT=$SERVER_URL \
		COMPAT_FULL_KEY_ID=AKIACOMPATFULL000001 COMPAT_FULL_SECRET=full/K7MDENG+bPxRfiCYCOMPATKEY \
		run_client bash "$COMPAT/awscli_kvs.sh"
}

suite_awscli-dist() {
	# --deploy-delay 0: the CLI's distribution-deployed waiter polls every
	# 60 s, so the distribution must be Deployed at its first poll.
	start_server awscli-dist -- --config "$EXAMPLE_CONFIG" --deploy-delay 0s || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL OPENFRONT_DISTRIBUTION_ID=$DIST \
		run_client bash "$COMPAT/awscli_distribution.sh"
}

suite_js-dist() {
	if [[ ! -d $COMPAT/js/node_modules/@aws-sdk/client-cloudfront ]]; then
		echo "compat: installing compat/js dependencies (npm ci)"
		(cd "$COMPAT/js" && npm ci --no-audit --no-fund) || return 1
	fi
	start_server js-dist -- --config "$EXAMPLE_CONFIG" --memory --deploy-delay 2s || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL OPENFRONT_DISTRIBUTION_ID=$DIST \
		run_client "$NODE" "$COMPAT/js/distribution.mjs"
}

# Policies, origin access controls and identities: every operation and
# error, round trips of full configurations, the quota, AccessDenied.
suite_boto3-pol() {
	"$PYTHON" -c 'import boto3' || return 1
	start_server boto3-pol-open -- --config "$EXAMPLE_CONFIG" || return 1
	local open=$SERVER_URL
	start_server boto3-pol-quota -- --config "$EXAMPLE_CONFIG" || return 1
	local quota=$SERVER_URL
	start_server boto3-pol-auth OPENFRONT_ACCESS_KEY_ID=AKIACOMPATFULL000001 OPENFRONT_SECRET_ACCESS_KEY=full/K7MDENG+bPxRfiCYCOMPATKEY \
		-- --config "$COMPAT/openfront-auth.yaml" || return 1
	OPENFRONT_ENDPOINT=$open OPENFRONT_QUOTA_ENDPOINT=$quota OPENFRONT_AUTH_ENDPOINT=$SERVER_URL \
		COMPAT_FULL_KEY_ID=AKIACOMPATFULL000001 COMPAT_FULL_SECRET=full/K7MDENG+bPxRfiCYCOMPATKEY \
		COMPAT_LIMITED_KEY_ID=AKIACOMPATLIMITED01 COMPAT_LIMITED_SECRET=limited/K7MDENG+bPxRfiCYCOMPATKEY \
		run_client "$PYTHON" "$COMPAT/boto3_policies_test.py"
}

# The lifecycle suites: create/get/list/update/delete of a cache policy, an
# origin request policy, a response headers policy and an origin access
# control, with If-Match and NoSuch... errors; each skips (a SKIP line, exit
# 0) while the server answers ListCachePolicies with 501 NotImplemented.
# aws-sdk-go-v2 runs the same lifecycle in e2e TestSDKGoPolicyLifecycles.
suite_boto3-lifecycles() {
	"$PYTHON" -c 'import boto3' || {
		echo "compat: $PYTHON cannot import boto3 (Debian: apt-get install python3-boto3)" >&2
		return 1
	}
	start_server boto3-lifecycles -- --config "$EXAMPLE_CONFIG" || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL run_client "$PYTHON" "$COMPAT/boto3_lifecycles_test.py"
}

suite_awscli-lifecycles() {
	start_server awscli-lifecycles -- --config "$EXAMPLE_CONFIG" || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL run_client bash "$COMPAT/awscli_lifecycles.sh"
}

suite_js-lifecycles() {
	if [[ ! -d $COMPAT/js/node_modules/@aws-sdk/client-cloudfront ]]; then
		echo "compat: installing compat/js dependencies (npm ci)"
		(cd "$COMPAT/js" && npm ci --no-audit --no-fund) || return 1
	fi
	start_server js-lifecycles -- --config "$EXAMPLE_CONFIG" --memory || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL OPENFRONT_DISTRIBUTION_ID=$DIST \
		run_client "$NODE" "$COMPAT/js/lifecycles.mjs"
}

# Public keys, key groups and signed URLs at the edge: every operation and
# error in boto3, then URLs signed by botocore's CloudFrontSigner and by
# `aws cloudfront sign` (which skips, saying why, without the CLI).
suite_boto3-keys() {
	"$PYTHON" -c 'import boto3, cryptography' || {
		echo "compat: $PYTHON cannot import boto3 and cryptography" >&2
		return 1
	}
	start_server boto3-keys -- --deploy-delay 0s || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL OPENFRONT_EDGE_ENDPOINT=$SERVER_EDGE_URL \
		run_client "$PYTHON" "$COMPAT/boto3_keygroups_test.py"
}

suite_awscli-sign() {
	start_server awscli-sign -- --deploy-delay 0s || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL OPENFRONT_EDGE_ENDPOINT=$SERVER_EDGE_URL \
		run_client bash "$COMPAT/awscli_sign.sh"
}

# CloudFront Functions: create, describe both stages, get, update,
# publish, list, test, delete, their errors, and a distribution
# associating a function. aws-sdk-go-v2 runs the same in e2e
# TestSDKGoFunctions.
suite_boto3-fn() {
	"$PYTHON" -c 'import boto3' || return 1
	start_server boto3-fn -- --config "$EXAMPLE_CONFIG" --deploy-delay 0s || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL run_client "$PYTHON" "$COMPAT/boto3_functions_test.py"
}

suite_awscli-fn() {
	start_server awscli-fn -- --config "$EXAMPLE_CONFIG" --deploy-delay 0s || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL run_client bash "$COMPAT/awscli_functions.sh"
}

suite_js-fn() {
	if [[ ! -d $COMPAT/js/node_modules/@aws-sdk/client-cloudfront ]]; then
		echo "compat: installing compat/js dependencies (npm ci)"
		(cd "$COMPAT/js" && npm ci --no-audit --no-fund) || return 1
	fi
	start_server js-fn -- --config "$EXAMPLE_CONFIG" --memory --deploy-delay 0s || return 1
	OPENFRONT_ENDPOINT=$SERVER_URL OPENFRONT_DISTRIBUTION_ID=$DIST \
		run_client "$NODE" "$COMPAT/js/functions.mjs"
}

passed=()
failed=()
for s in "${SUITES[@]}"; do
	echo
	echo "===== compat: $s ====="
	start=$SECONDS
	# Not in a subshell: the servers a suite starts must stay in PIDS. Every
	# step of a suite_* function checks its own status (set -e is off here).
	if "suite_$s" && check_servers; then
		passed+=("$s")
		echo "===== compat: $s PASSED ($((SECONDS - start))s) ====="
	else
		failed+=("$s")
		show_server_logs
		echo "===== compat: $s FAILED ($((SECONDS - start))s) =====" >&2
	fi
	stop_servers
done

echo
echo "compat summary: passed: ${passed[*]:-none}; failed: ${failed[*]:-none}"
if [[ -s $COMPAT_SKIPS ]]; then
	echo "compat: $(wc -l <"$COMPAT_SKIPS") known difference(s) from CloudFront, skipped (see docs/compatibility.md):"
	sed 's/^/  /' "$COMPAT_SKIPS"
fi
echo "compat: ${#passed[@]} passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
