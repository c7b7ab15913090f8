# pkg/local/bench/bench.mk - `make bench`: measured speed of the decision
# core, cold start, the serve path, the token API and the console in
# Chromium. Figures, not pass/fail.
#
#   make bench                   every figure, then BENCHMARKS.md (also printed); about 10 minutes
#   make bench BENCH_COUNT=6     figures 1 and 3 six times each (default 3; six is what benchstat needs for its statistics)
#   make bench BENCH_WINDOW=5s   shorter load windows for figures 5, 6 and 8 (at least 1s; default 10s)
#
# Everything runs on loopback and stops by itself. DynamoDB Local is installed
# and started by the benchmarks (pkg/local/dynamolocal/dltest), or taken from
# DYNAMODB_ENDPOINT. Figure 7 needs the console's build (make web) and
# Chromium, and is skipped, saying so, without them. Raw Go benchmark
# output: $(BENCH_DIR)/{micro,coldstart,load,console}.txt;
# compare two runs with
#   go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da old/load.txt $(BENCH_DIR)/load.txt
#
# Each `go test` run measures one package, one after the other, on purpose:
# with several packages in one run, go test compiles one while another is
# being measured. Figures 1 and 3 are ratios of benchmarks run side by side;
# repeating the whole runs (rather than -count, which repeats each benchmark
# back to back) interleaves them, so a machine whose speed drifts - shared
# VMs do - skews both sides alike. -vet=off: `make lint` vets; here it would
# only cost time.

GO           ?= go
BENCH_DIR    ?= $(or $(BUILD_DIR),build)/bench
BENCH_COUNT  ?= 3
BENCH_WINDOW ?= 10s
# What a fresh machine needs first (Java 17, npm, Go modules): the root
# Makefile's deps target. Empty it to run this file on its own:
#   make -f pkg/local/bench/bench.mk bench BENCH_DEPS=
BENCH_DEPS   ?= deps web

.PHONY: bench

# pipefail: a failed benchmark must fail make, not disappear into tee.
bench: SHELL := /bin/bash

bench: $(BENCH_DEPS) ## measured speed of authorization, cold start, the serve path in both modes and the console; writes BENCHMARKS.md (~10 min)
	@set -eo pipefail; mkdir -p $(BENCH_DIR); start=$$(date +%s); \
	echo "==> bench 1/4: decision core - figure 1 (pkg/auth) and figure 3 (pkg/local/bench), count $(BENCH_COUNT)"; \
	: > $(BENCH_DIR)/micro.txt; \
	for i in $$(seq $(BENCH_COUNT)); do \
		$(GO) test -vet=off -run '^$$' -bench '^Benchmark(Decision|Baseline)$$' -benchmem ./pkg/auth | tee -a $(BENCH_DIR)/micro.txt; \
		$(GO) test -vet=off -run '^$$' -bench '^BenchmarkJWT$$' -benchmem ./pkg/local/bench | tee -a $(BENCH_DIR)/micro.txt; \
	done; \
	echo "==> bench 2/4: cold start of the authorizer and serve bootstrap binaries - figure 4 (20 starts each)"; \
	REQUIRE_DYNAMODB_LOCAL=1 $(GO) test -vet=off -run '^$$' -bench '^BenchmarkColdStart$$' -benchmem -benchtime 20x -timeout 10m ./functions | tee $(BENCH_DIR)/coldstart.txt; \
	echo "==> bench 3/4: DynamoDB Local and the local stack - figures 2, 6, 5, 8, 9 and 10 (serve modes: paced streams, then $(BENCH_WINDOW) windows; last use; limits)"; \
	REQUIRE_DYNAMODB_LOCAL=1 BENCH_WINDOW=$(BENCH_WINDOW) $(GO) test -vet=off -run '^$$' -bench '^Benchmark(DecisionDynamoDB|Manage|Serve|ServeModes|LastUsed|Limits)$$' -benchmem -timeout 20m ./pkg/local/bench | tee $(BENCH_DIR)/load.txt; \
	echo "==> bench 4/4: the console in Chromium, 10,000 tokens in the table - figure 7 (web/e2e/bench.mjs)"; \
	REQUIRE_DYNAMODB_LOCAL=1 $(GO) test -vet=off -run '^$$' -bench '^BenchmarkConsole$$' -timeout 15m ./pkg/local/bench | tee $(BENCH_DIR)/console.txt; \
	echo "==> bench: writing BENCHMARKS.md"; \
	$(GO) run ./pkg/local/bench/cmd/benchreport -o BENCHMARKS.md -window $(BENCH_WINDOW) -count $(BENCH_COUNT) -started $$start \
		$(BENCH_DIR)/micro.txt $(BENCH_DIR)/coldstart.txt $(BENCH_DIR)/load.txt $(BENCH_DIR)/console.txt
