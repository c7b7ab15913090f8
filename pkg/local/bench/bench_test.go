package bench_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/bench"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
)

// One DynamoDB Local serves every benchmark of this binary.
func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }

// EnvWindow sets the measured window of the load benchmarks (figures 5 and
// 6), as a Go duration of at least 1s; the default is 10 s.
const EnvWindow = "BENCH_WINDOW"

func window(tb testing.TB) time.Duration {
	tb.Helper()
	v := os.Getenv(EnvWindow)
	if v == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(v)
	// At least the default -benchtime: a window shorter than that would
	// make the framework call the benchmark again and again.
	if err != nil || d < time.Second {
		tb.Fatalf("%s=%q is not a duration of at least 1s", EnvWindow, v)
	}
	return d
}

// progress tells whoever runs `make bench` what is happening during the
// long, silent windows (benchmark results print only when one ends). The
// "# " keeps the line from reading as a "key: value" configuration line of
// the benchmark format, which would split benchstat's tables.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# bench: "+format+"\n", args...)
}

// reportLoad reports a load window as benchmark metrics: ns/op is wall
// time per successful request (the inverse of throughput, as b.N
// iterations would give it), with the rate, latency percentiles and
// failures beside it. B/op and allocs/op, with -benchmem, are the whole
// process's (client, gateway, functions and upstream run in it) per
// request.
func reportLoad(b *testing.B, r bench.Result, alloc allocs) {
	b.Helper()
	if r.OK == 0 {
		b.Fatalf("no successful request in the window (%d failed; first: %s)", r.Failed, r.FirstError)
	}
	if r.Failed > 0 {
		b.Errorf("%d of %d requests failed (statuses %v); first: %s", r.Failed, r.OK+r.Failed, r.Statuses, r.FirstError)
	}
	n := float64(r.OK)
	b.ReportMetric(float64(r.Elapsed.Nanoseconds())/n, "ns/op")
	b.ReportMetric(r.PerSecond(), "req/s")
	b.ReportMetric(float64(r.Mean().Nanoseconds()), "mean-ns")
	b.ReportMetric(float64(r.Percentile(50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(r.Percentile(99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(r.Failed), "errors")
	b.ReportMetric(float64(alloc.bytes())/n, "B/op")
	b.ReportMetric(float64(alloc.count())/n, "allocs/op")
	progress("  %s: %.0f req/s, p50 %v, p99 %v, %d failed", b.Name(), r.PerSecond(),
		r.Percentile(50).Round(time.Microsecond), r.Percentile(99).Round(time.Microsecond), r.Failed)
}

// allocs is the process's allocation count and volume over a window.
type allocs struct{ mallocs, total uint64 }

func (a allocs) count() uint64 { return a.mallocs }
func (a allocs) bytes() uint64 { return a.total }

// measureAllocs runs f and returns what the whole process allocated
// meanwhile.
func measureAllocs(f func()) allocs {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return allocs{mallocs: after.Mallocs - before.Mallocs, total: after.TotalAlloc - before.TotalAlloc}
}

// latencies collects per-operation timings for percentile metrics.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	b.Helper()
	s := slices.Clone(l)
	slices.Sort(s)
	b.ReportMetric(float64(bench.Percentile(s, 50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(bench.Percentile(s, 99).Nanoseconds()), "p99-ns")
}
