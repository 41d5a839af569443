#!/usr/bin/env bash
# Edge cache-hit benchmark (`make bench-edge`, issue 4): throughput and
# latency of cache hits for a 1 KiB and a 100 KiB object, measured with wrk
# against openfront's edge, nginx proxy_cache and Varnish, all caching the
# same origin (bench/edge/origin) in the same run. Prints the machine, the
# versions, every run, and a table of medians with openfront's ratios to
# Varnish and nginx. Prints figures, no pass/fail; see docs/benchmarks.md.
#
# Settings (environment):
#   ROUNDS=3     rounds; each measures every target and object once, the
#                order of the targets rotating from round to round
#   DURATION=10s length of each measured wrk run
#   WARMUP=3s    length of the unmeasured wrk run per target and object
#                before round 1
#   THREADS=2    wrk threads
#   CONNS=32     wrk connections (keep-alive)
#   TARGETS="openfront nginx varnish go-plain fasthttp-plain edge edge-policies edge-signed edge-function"
#                edge, edge-policies, edge-signed and edge-function are openfront's edge in
#                the harness process (bench/edge/harness -mode edge, ...:
#                the same listener and cache as `openfront serve`, without
#                the fleet): a plain hit, and a hit of /OBJECT?v=1&utm=bench
#                under a cache policy keyed on v and a response headers
#                policy adding five headers; the table then adds
#                policies/plain, edge-policies req/s over edge's, median of
#                the per-round ratios. edge-signed (-mode edge-signed): a hit
#                of /OBJECT with a signed URL (custom policy, RSA 2048,
#                SHA1) under a behavior trusting a key group; the table adds
#                signed/plain, edge-signed req/s over edge's. edge-function: a hit of /OBJECT through
#                a viewer-request CloudFront Function that rewrites the URI
#                and adds a header; the table adds function/plain likewise. go-plain is a reference, not a cache: a Go net/http handler
#                writing the same bytes with one w.Write (bench/edge/harness
#                -mode plain), the ceiling of net/http on the machine;
#                fasthttp-plain the same answer from a fasthttp server
#                (-mode fasthttp-plain), the ceiling of fasthttp
#   OBJECTS="1k 100k"
#   IDLE_MIN=80  before each measured run, wait (up to IDLE_WAIT=60 seconds)
#                until the machine was at least this % idle over 2 s; the
#                idle % seen is recorded per run. 0: do not wait
#   NGINX_TUNING="sendfile off; ..."  nginx http-level directives to try
#   METRICS=1    also measure openfront-metrics: a second openfront with
#                --metrics-addr 127.0.0.1:0 (counting every hit), in the same
#                rounds; the table then adds metrics/openfront, its req/s over
#                openfront's, median of the per-round ratios
#   KEEP=1       keep the temporary directory (configs, logs, raw wrk output)
#   OPENFRONT_BIN=path  benchmark this openfront binary rather than build one
#   OPENFRONT_ARGS="..." extra flags of openfront serve, e.g.
#                "--access-log-dir /tmp/logs" to measure the access log's cost
#   REV=HEAD     build openfront from this git revision (git archive) rather
#                than from the working tree, e.g. while internal/ is mid-edit
#
# Needs go, curl, wrk, nginx and varnishd (Debian: apt-get install -y nginx
# varnish wrk). Everything listens on free 127.0.0.1 ports and is stopped on
# exit. The servers and wrk share the machine's cores: wrk's own CPU use is
# part of every figure, equally for every target.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
TARGETS=${TARGETS:-"openfront nginx varnish go-plain fasthttp-plain edge edge-policies edge-signed edge-function"}
OBJECTS=${OBJECTS:-"1k 100k"}
IDLE_MIN=${IDLE_MIN:-80}
IDLE_WAIT=${IDLE_WAIT:-60}
HOST=bench.test
if [[ ${METRICS:-} == 1 && " $TARGETS " != *" openfront-metrics "* ]]; then
	TARGETS="$TARGETS openfront-metrics"
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

for cmd in go curl wrk nginx varnishd; do
	if ! command -v "$cmd" >/dev/null; then
		echo "bench-edge: $cmd not found (apt-get install -y nginx varnish wrk curl)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-edge.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${KEEP:-} == 1 ]]; then
		echo "bench-edge: kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a TCP port nothing listens on at 127.0.0.1 now.
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
		return
	fi
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# wait_for FILE PATTERN PID: waits until FILE has a line matching PATTERN.
wait_for() {
	local i
	for i in $(seq 200); do
		if grep -q "$2" "$1" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$3" 2>/dev/null; then
			echo "bench-edge: process $3 exited; its output:" >&2
			cat "$1" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "bench-edge: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	exit 1
}

# wait_http PORT PID: waits until something answers HTTP on 127.0.0.1:PORT.
wait_http() {
	local i
	for i in $(seq 200); do
		if curl -s -o /dev/null "http://127.0.0.1:$1/"; then
			return 0
		fi
		if ! kill -0 "$2" 2>/dev/null; then
			echo "bench-edge: process $2 exited" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "bench-edge: nothing answers on 127.0.0.1:$1" >&2
	exit 1
}

echo "== building"
mkdir -p "$tmp/bin"
src=$root
if [[ -n ${REV:-} ]]; then
	src=$tmp/src
	mkdir -p "$src"
	(cd "$root" && git archive "$REV") | tar -x -C "$src"
	rm -rf "$src/bench/edge"
	mkdir -p "$src/bench"
	cp -r "$here" "$src/bench/edge"
fi
if [[ -n ${OPENFRONT_BIN:-} ]]; then
	cp "$OPENFRONT_BIN" "$tmp/bin/openfront"
else
	(cd "$src" && go build -o "$tmp/bin/openfront" ./cmd/openfront)
fi
if [[ " $TARGETS " =~ " "(go-plain|fasthttp-plain|edge|edge-policies|edge-signed|edge-function)" " ]]; then
	(cd "$src" && go build -o "$tmp/bin/harness" ./bench/edge/harness)
fi
(cd "$root" && go build -o "$tmp/bin/origin" ./bench/edge/origin)

echo "== starting the origin, openfront, nginx and varnish"
"$tmp/bin/origin" -addr 127.0.0.1:0 >"$tmp/origin.log" 2>&1 &
pids+=($!)
wait_for "$tmp/origin.log" "origin listening on" "$!"
origin=$(sed -n 's|^origin listening on http://||p' "$tmp/origin.log")

of_port=$(free_port)
cat >"$tmp/openfront.yaml" <<EOF
distributions:
  - id: EBENCH
    origin: http://$origin
    aliases: [$HOST]
EOF
"$tmp/bin/openfront" serve --config "$tmp/openfront.yaml" --memory --data-dir "$tmp/openfront-data" \
	--api-addr 127.0.0.1:0 --edge-addr "127.0.0.1:$of_port" --log-level warn ${OPENFRONT_ARGS:-} >"$tmp/openfront.log" 2>&1 &
pids+=($!)
of_pid=$!
wait_for "$tmp/openfront.log" "openfront edge listening on" "$!"
if [[ " $TARGETS " == *" openfront-metrics "* ]]; then
	om_port=$(free_port)
	"$tmp/bin/openfront" serve --config "$tmp/openfront.yaml" --memory \
		--api-addr 127.0.0.1:0 --edge-addr "127.0.0.1:$om_port" --metrics-addr 127.0.0.1:0 --log-level warn >"$tmp/openfront-metrics.log" 2>&1 &
	pids+=($!)
	om_pid=$!
	wait_for "$tmp/openfront-metrics.log" "openfront metrics listening on" "$!"
	om_metrics=$(sed -n 's|^openfront metrics listening on ||p' "$tmp/openfront-metrics.log")
fi

ng_port=$(free_port)
# The fastest of the usual settings on cache hits over loopback here (an A/B
# of six, see docs/benchmarks.md). Debian's own `sendfile on; tcp_nopush on;`
# stalls each 100 KiB hit about 40 ms on loopback (1-2k req/s): not used.
NGINX_TUNING=${NGINX_TUNING:-"sendfile off; output_buffers 2 128k; open_file_cache max=1000 inactive=60s;"}
mkdir -p "$tmp/nginx/cache" "$tmp/nginx/logs"
ng_user=""
if [[ $(id -u) == 0 ]]; then
	ng_user="user root;" # the workers must write the cache in $tmp
fi
cat >"$tmp/nginx/nginx.conf" <<EOF
$ng_user
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    tcp_nodelay on;
    $NGINX_TUNING
    keepalive_timeout 65;
    keepalive_requests 1000000;   # as openfront and varnish: no per-connection limit
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy_temp;
    fastcgi_temp_path $tmp/nginx/fastcgi_temp;
    uwsgi_temp_path $tmp/nginx/uwsgi_temp;
    scgi_temp_path $tmp/nginx/scgi_temp;
    proxy_cache_path $tmp/nginx/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=60m use_temp_path=off;
    upstream origin {
        server $origin;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$ng_port;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_valid 200 1h;
            add_header X-Cache-Status \$upstream_cache_status;
        }
    }
}
EOF
nginx -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" >"$tmp/nginx/logs/stdout.log" 2>&1 &
pids+=($!)
ng_pid=$!
wait_http "$ng_port" "$!"

va_port=$(free_port)
# -j none: no privilege separation, so a root run can use $tmp; -T none: no
# management port. The built-in VCL caches per Cache-Control.
varnishd -F -j none -a "127.0.0.1:$va_port" -b "$origin" -n "$tmp/varnish" -s malloc,256m -T none \
	>"$tmp/varnish.log" 2>&1 &
pids+=($!)
va_pid=$!
wait_http "$va_port" "$!"

if [[ " $TARGETS " == *" go-plain "* ]]; then
	gp_port=$(free_port)
	"$tmp/bin/harness" -mode plain -addr "127.0.0.1:$gp_port" -pprof "" >"$tmp/go-plain.log" 2>&1 &
	pids+=($!)
	gp_pid=$!
	wait_for "$tmp/go-plain.log" "listening on" "$!"
fi
if [[ " $TARGETS " == *" fasthttp-plain "* ]]; then
	fp_port=$(free_port)
	"$tmp/bin/harness" -mode fasthttp-plain -addr "127.0.0.1:$fp_port" -pprof "" >"$tmp/fasthttp-plain.log" 2>&1 &
	pids+=($!)
	fp_pid=$!
	wait_for "$tmp/fasthttp-plain.log" "listening on" "$!"
fi

for mode in edge edge-policies edge-signed edge-function; do
	if [[ " $TARGETS " == *" $mode "* ]]; then
		port=$(free_port)
		"$tmp/bin/harness" -mode "$mode" -addr "127.0.0.1:$port" -pprof "" >"$tmp/$mode.log" 2>&1 &
		pids+=($!)
		wait_for "$tmp/$mode.log" "listening on" "$!"
		case $mode in
		edge) ep_port=$port ep_pid=$! ;;
		edge-policies) epol_port=$port epol_pid=$! ;;
		edge-signed)
			esig_port=$port esig_pid=$!
			esig_query=$(sed -n 's|^signed query: ||p' "$tmp/$mode.log")
			;;
		edge-function) efn_port=$port efn_pid=$! ;;
		esac
	fi
done

# query_of TARGET: the query string the target's requests carry.
query_of() {
	case $1 in
	edge-policies) echo "?v=1&utm=bench" ;;
	edge-signed) echo "$esig_query" ;;
	esac
}

port_of() {
	case $1 in
	edge) echo "$ep_port" ;;
	edge-policies) echo "$epol_port" ;;
	edge-signed) echo "$esig_port" ;;
	edge-function) echo "$efn_port" ;;
	go-plain) echo "$gp_port" ;;
	fasthttp-plain) echo "$fp_port" ;;
	openfront) echo "$of_port" ;;
	openfront-metrics) echo "$om_port" ;;
	nginx) echo "$ng_port" ;;
	varnish) echo "$va_port" ;;
	esac
}

# pid_of TARGET: the target's server process.
pid_of() {
	case $1 in
	openfront) echo "$of_pid" ;;
	openfront-metrics) echo "$om_pid" ;;
	nginx) echo "$ng_pid" ;;
	varnish) echo "$va_pid" ;;
	go-plain) echo "$gp_pid" ;;
	fasthttp-plain) echo "$fp_pid" ;;
	edge) echo "$ep_pid" ;;
	edge-policies) echo "$epol_pid" ;;
	edge-signed) echo "$esig_pid" ;;
	edge-function) echo "$efn_pid" ;;
	esac
}

# procs_of TARGET: prints the target's server process and its children
# (nginx workers, varnish's child).
procs_of() {
	local pid
	pid=$(pid_of "$1")
	echo "$pid"
	pgrep -P "$pid" || true
}

# writes TARGET: prints the write system calls the target's processes have
# made.
writes() {
	procs_of "$1" | while read -r p; do
		awk '/^syscw:/ {print $2}' "/proc/$p/io" 2>/dev/null || true
	done | awk '{n += $1} END {print n + 0}'
}

# cpu_ticks TARGET: prints the CPU time (user + system, in clock ticks) the
# target's processes have used.
cpu_ticks() {
	procs_of "$1" | while read -r p; do
		# Fields 14 and 15 after the command name, which may hold spaces.
		sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || true
	done | awk '{n += $1} END {print n + 0}'
}

is_hit() {
	case $1 in
	openfront | openfront-metrics | edge | edge-policies | edge-signed | edge-function) grep -qi '^x-cache: Hit from cloudfront' "$2" ;;
	nginx) grep -qi '^x-cache-status: HIT' "$2" ;;
	varnish) grep -qiE '^x-varnish: [0-9]+ [0-9]+' "$2" && grep -qi '^age: ' "$2" ;;
	go-plain | fasthttp-plain) grep -qi '^HTTP/1.1 200' "$2" ;; # not a cache: always "hits"
	esac
}

echo "== warming the caches and checking that they answer hits"
for t in $TARGETS; do
	for o in $OBJECTS; do
		url="http://127.0.0.1:$(port_of "$t")/$o$(query_of "$t")"
		curl -sS -o /dev/null -H "Host: $HOST" "$url"
		size=$(curl -sS -D "$tmp/h" -o "$tmp/b" -w '%{size_download}' -H "Host: $HOST" "$url")
		if ! is_hit "$t" "$tmp/h"; then
			echo "bench-edge: $t /$o: second request is not a cache hit:" >&2
			cat "$tmp/h" >&2
			exit 1
		fi
		tr -d '\r' <"$tmp/h" | grep -iE '^(HTTP/|x-cache|x-varnish|age:|content-length:)' | paste -sd' ' |
			sed "s|^|  $t /$o ($size bytes): |"
	done
done
origin_before=$(curl -sS "http://$origin/_count")
echo "  origin requests so far: $origin_before"

echo "== machine"
{
	echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	if [[ -n ${OPENFRONT_BIN:-} ]]; then
		echo "openfront: $OPENFRONT_BIN (OPENFRONT_BIN)"
	elif [[ -n ${REV:-} ]]; then
		echo "openfront: $(cd "$root" && git rev-parse --short "$REV") (REV=$REV)"
	else
		echo "openfront: working tree at $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$root" && git diff --quiet HEAD -- internal cmd 2>/dev/null || echo ' + uncommitted changes in internal/ or cmd/')"
	fi
	echo "cpu:      $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "kernel:   $(uname -sr)"
	echo "go:       $(go version | cut -d' ' -f3-)"
	echo "nginx:    $(nginx -v 2>&1 | sed 's/^nginx version: //')"
	echo "varnish:  $(varnishd -V 2>&1 | head -1 | sed 's/^varnishd (//; s/)$//')"
	echo "wrk:      $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "nginx:    $NGINX_TUNING (+ access_log off, keepalive_requests 1000000, tcp_nodelay on, worker_processes auto)"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
	echo "wrk run:  wrk -t$THREADS -c$CONNS -d$DURATION -H 'Host: $HOST' -s bench/edge/report.lua URL, $ROUNDS rounds"
} | tee "$tmp/machine.txt"

# idle_pct prints the % of the machine's CPU time that was idle over 2 s.
idle_pct() {
	local a b
	a=$(awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); printf "%d", 100 * (y[1] - x[1]) / (y[2] - x[2] + 1e-9)}'
}

# wait_idle prints the idle % once it reaches IDLE_MIN, or after IDLE_WAIT s.
wait_idle() {
	local start=$SECONDS idle
	while :; do
		idle=$(idle_pct)
		if ((idle >= IDLE_MIN || SECONDS - start >= IDLE_WAIT)); then
			echo "$idle"
			return
		fi
	done
}

# run_wrk TARGET OBJECT DURATION: prints wrk's RESULT line.
run_wrk() {
	local out
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$3" -H "Host: $HOST" -s "$here/report.lua" \
		"http://127.0.0.1:$(port_of "$1")/$2$(query_of "$1")")
	if ! grep -q '^RESULT ' <<<"$out"; then
		echo "bench-edge: wrk failed against $1 /$2:" >&2
		echo "$out" >&2
		exit 1
	fi
	grep '^RESULT ' <<<"$out"
}

if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
	echo "== warm-up (${WARMUP} per target and object, not measured)"
	for t in $TARGETS; do
		for o in $OBJECTS; do
			run_wrk "$t" "$o" "$WARMUP" >/dev/null
		done
	done
fi

echo "== measuring"
read -ra order <<<"$TARGETS"
results="$tmp/results.txt"
: >"$results"
for r in $(seq "$ROUNDS"); do
	# Rotate the order of the targets by one each round.
	shift_by=$(((r - 1) % ${#order[@]}))
	round_order=("${order[@]:shift_by}" "${order[@]:0:shift_by}")
	for o in $OBJECTS; do
		for t in "${round_order[@]}"; do
			idle=$(wait_idle)
			w0=$(writes "$t")
			c0=$(cpu_ticks "$t")
			line=$(run_wrk "$t" "$o" "$DURATION")
			c1=$(cpu_ticks "$t")
			w1=$(writes "$t")
			n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
			wpr=$(awk -v w=$((w1 - w0)) -v n="$n" 'BEGIN {printf "%.2f", n ? w / n : 0}')
			cpr=$(awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {printf "%.1f", n ? c * 1e6 / hz / n : 0}')
			echo "round=$r target=$t object=$o ${line#RESULT } writes_per_req=$wpr cpu_us_per_req=$cpr idle_before=$idle load1=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
		done
	done
done

if [[ -n ${om_metrics:-} ]]; then
	echo "openfront-metrics counted: $(curl -sS "$om_metrics" | grep -E '^openfront_edge_requests_total\{distribution="EBENCH"' | tr '\n' ' ')"
fi
origin_after=$(curl -sS "http://$origin/_count")
echo "origin requests during the measurement: $((origin_after - origin_before)) (0: every measured response was a cache hit)"
if grep -qvE 'sockerr=0 non2xx=0' "$results"; then
	echo "bench-edge: WARNING: some runs had socket errors or non-2xx responses (see above)" >&2
fi

echo
echo "== results: median over $ROUNDS rounds (min-max of req/s); latency in ms"
awk -v targets="$TARGETS" -v objects="$OBJECTS" '
function kv(s,   n, a, i, p) {
	n = split(s, a, " ")
	delete f
	for (i = 1; i <= n; i++) { split(a[i], p, "="); f[p[1]] = p[2] }
}
function median(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}
function minof(list,   n, a, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
function maxof(list,   n, a, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
{
	kv($0)
	k = f["target"] SUBSEP f["object"]
	rps[k] = rps[k] " " f["rps"]; p50[k] = p50[k] " " f["p50_us"]; p99[k] = p99[k] " " f["p99_us"]
	wpr[k] = wpr[k] " " f["writes_per_req"]
	cpr[k] = cpr[k] " " f["cpu_us_per_req"]
	byround[f["round"], k] = f["rps"]
	rounds[f["round"]] = 1
}
END {
	nt = split(targets, T, " "); no = split(objects, O, " ")
	printf "%-17s %-6s %10s %19s %8s %8s %7s %8s %18s %18s\n", "target", "object", "req/s", "(min-max)", "p50", "p99", "wr/req", "cpu/req", "of/varnish", "of/nginx"
	for (j = 1; j <= no; j++) {
		o = O[j]
		for (i = 1; i <= nt; i++) {
			t = T[i]; k = t SUBSEP o
			if (!(k in rps)) continue
			ratios_v = ""; ratios_n = ""
			if (t == "openfront" || t == "openfront-metrics" || t == "go-plain" || t == "fasthttp-plain") {
				ratios_v = ratio(t, o, "varnish"); ratios_n = ratio(t, o, "nginx")
			}
			printf "%-17s %-6s %10.0f %19s %8.2f %8.2f %7.2f %8.1f %18s %18s\n", t, o, median(rps[k]),
				sprintf("(%.0f-%.0f)", minof(rps[k]), maxof(rps[k])),
				median(p50[k]) / 1000, median(p99[k]) / 1000, median(wpr[k]), median(cpr[k]), ratios_v, ratios_n
		}
	}
	for (j = 1; j <= no; j++) {
		if (("openfront-metrics" SUBSEP O[j]) in rps)
			printf "metrics/openfront %-6s %s  (openfront-metrics req/s over openfront'"'"'s, median of the per-round ratios)\n", O[j], ratio("openfront-metrics", O[j], "openfront")
		if ((("edge-policies" SUBSEP O[j]) in rps) && (("edge" SUBSEP O[j]) in rps))
			printf "policies/plain    %-6s %s  (edge-policies req/s over edge'"'"'s, median of the per-round ratios)\n", O[j], ratio("edge-policies", O[j], "edge")
		if ((("edge-signed" SUBSEP O[j]) in rps) && (("edge" SUBSEP O[j]) in rps))
			printf "signed/plain      %-6s %s  (edge-signed req/s over edge'"'"'s, median of the per-round ratios)\n", O[j], ratio("edge-signed", O[j], "edge")
		if ((("edge-function" SUBSEP O[j]) in rps) && (("edge" SUBSEP O[j]) in rps))
			printf "function/plain    %-6s %s  (edge-function req/s over edge'"'"'s, median of the per-round ratios)\n", O[j], ratio("edge-function", O[j], "edge")
	}
	print ""
	print "p50, p99: wrk latency in ms. wr/req: write system calls of the server processes per response;"
	print "cpu/req: their CPU time (user + system) per response, in microseconds."
	print "of/varnish, of/nginx: openfront req/s over theirs, median of the per-round ratios (min-max);"
	print "on the go-plain and fasthttp-plain rows, theirs: the most a net/http (fasthttp) server reaches here."
}
function ratio(t, o, other,   r, list, x) {
	list = ""
	for (r in rounds) {
		if (((r, t SUBSEP o) in byround) && ((r, other SUBSEP o) in byround)) {
			x = byround[r, t SUBSEP o] / byround[r, other SUBSEP o]
			list = list " " x
		}
	}
	if (list == "") return "-"
	return sprintf("%.2f (%.2f-%.2f)", median(list), minof(list), maxof(list))
}
' "$results" | tee "$tmp/table.txt"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at end"
