# The project's usual commands. Each target is a plain shell line; add new
# ones (bench, ...) beside these.
GO ?= go

.PHONY: build test compat

build:
	$(GO) build -buildvcs=auto -o bin/openfront ./cmd/openfront

test:
	$(GO) test ./...

# Real AWS clients (boto3, AWS CLI, @aws-sdk/client-cloudfront) against the
# real binary; see compat/run.sh. Needs awscli (apt) and npm ci in compat/js.
compat:
	bash compat/run.sh

# CreateInvalidation throughput and p50/p99 latency through aws-sdk-go-v2:
# openfront (durable store, SigV4 on) against a do-nothing server, the
# machine's ceiling. Prints figures (no pass/fail); see docs/benchmarks.md.
# Own binaries under bin/bench/ so a concurrent `make build` is not raced.
# BENCH_FLAGS="... -metrics" also measures openfront with --metrics-addr,
# in the same rounds (the cost of the metrics).
.PHONY: bench
BENCH_FLAGS ?= -duration 10s -warmup 2s -conc 1,16 -rounds 3
bench:
	$(GO) build -o bin/bench/openfront ./cmd/openfront && $(GO) build -o bin/bench/createinv ./bench/createinv && bin/bench/createinv -bin bin/bench/openfront $(BENCH_FLAGS)

# Invalidation propagation (issue 5): three `openfront edge` processes under
# viewer load; time from CreateInvalidation's 201 to (a) the last edge
# serving the new object and (b) GetInvalidation Completed, p50/p99/max;
# then 1 to 100 simulated edges (in-process followers) for completion time
# and control-plane CPU. Prints figures (and the target line); see
# docs/benchmarks.md. Own binaries, so concurrent builds are not raced.
# CreateInvalidation at concurrency 16 through `openfront serve
# --postgres-url` (one replica; two sharing the load) beside the log store
# and the do-nothing ceilings (same run), then start-up time and RSS with 1,000,000 invalidations stored on
# PostgreSQL. Starts its own PostgreSQL (initdb, postgres on PATH). Prints
# figures; see docs/benchmarks.md.
HA_FLAGS ?=
.PHONY: bench-ha
bench-ha:
	$(GO) build -o bin/bench/ha/openfront ./cmd/openfront && $(GO) build -o bin/bench/ha/createinv ./bench/createinv && $(GO) build -o bin/bench/ha/pgha ./bench/pgha && bin/bench/ha/pgha -bin bin/bench/ha/openfront -createinv bin/bench/ha/createinv $(HA_FLAGS)

# Start-up time and memory (VmRSS, VmHWM) of `openfront serve` with
# 1,000,000 invalidations stored (bulk-filled, not through the API) on the
# log store, with every invalidation kept and with a count retention, and
# on PostgreSQL (its own server: initdb, postgres on PATH). Everything in
# one temporary directory, removed. Prints figures; see docs/benchmarks.md.
SCALE_FLAGS ?=
.PHONY: bench-scale
bench-scale:
	$(GO) build -o bin/bench/scale/openfront ./cmd/openfront && $(GO) build -o bin/bench/scale/scale ./bench/scale && bin/bench/scale/scale -bin bin/bench/scale/openfront $(SCALE_FLAGS)

.PHONY: bench-propagation
PROPAGATION_FLAGS ?= -n 500 -rounds 3 -sim-sizes 1,10,50,100 -sim-n 500 -sim-rounds 2
bench-propagation:
	$(GO) build -o bin/bench/propagation/openfront ./cmd/openfront && $(GO) build -o bin/bench/propagation/propagation ./bench/propagation && bin/bench/propagation/propagation -bin bin/bench/propagation/openfront $(PROPAGATION_FLAGS)

# Edge cache hits (issue 4): req/s and p50/p99 of cache hits on a 1 KiB and
# a 100 KiB object with wrk, openfront's edge beside nginx proxy_cache and
# Varnish on the same origin, in one run (needs apt-get install -y nginx
# varnish wrk). Prints figures (no pass/fail); see bench/edge/run.sh for
# its settings (ROUNDS, DURATION, REV, ...) and docs/benchmarks.md.
.PHONY: bench-edge
bench-edge:
	bash bench/edge/run.sh
