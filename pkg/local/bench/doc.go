// Package bench measures the system for `make bench`: a small
// HTTP load generator (Run), a reader of Go benchmark output (Parse) and the
// writer of BENCHMARKS.md (Report).
//
// The measurements themselves are ordinary Go benchmarks, so that every
// figure is a line of `go test -bench` output and two runs compare with
// benchstat:
//
//	pkg/auth/bench_test.go              figure 1: decision core, API token, cache hit, and its floor
//	pkg/local/bench/decision_bench_test.go    figures 2 and 3: cache miss against DynamoDB Local; JWTs
//	functions/bench_test.go             figure 4: cold start of the real bootstrap binaries
//	pkg/local/bench/serve_bench_test.go       figure 5: /v2/serve through the local stack and straight to the upstream
//	pkg/local/bench/manage_bench_test.go      figure 6: token management with 10,000 tokens in the table
//	pkg/local/bench/modes_bench_test.go       figure 8: both serve modes - paced streams, container-mode throughput
//
// Figures 5, 6 and 8 run for a fixed window (BENCH_WINDOW, default 10s; at most
// 3s for figure 6) rather than b.N iterations, so the framework runs them
// once; they report ns/op as wall time per successful request and their own
// metrics (req/s, mean-ns, p50-ns, p99-ns, errors). Everything talks to
// loopback only and stops by itself. bench.mk is the make target; the
// report's goal checks live in report.go.
package bench
