# The project's usual commands. Each target is a plain shell line; add new
# ones (bench, ...) beside these.
GO ?= go

.PHONY: build test compat

build:
	$(GO) build -o bin/openfront ./cmd/openfront

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
.PHONY: bench
BENCH_FLAGS ?= -duration 10s -warmup 2s -conc 1,16 -rounds 3
bench:
	$(GO) build -o bin/bench/openfront ./cmd/openfront && $(GO) build -o bin/bench/createinv ./bench/createinv && bin/bench/createinv -bin bin/bench/openfront $(BENCH_FLAGS)
