package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/bench"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
)

// serveUsers is how many distinct API tokens the load uses: one per worker
// at the highest concurrency, so cache-on runs hit one entry per caller
// rather than a single hot one.
const serveUsers = 32

var chatBody = []byte(`{"model":"` + devupstream.ModelEcho + `","messages":[{"role":"user","content":"Say hello to the benchmark."}]}`)

// BenchmarkServe is figure 5: authorized calls through the local stack's
// ALB path (serve handler: decision core, model permission check, proxy to
// the development upstream with its own key), with the decision cache on
// (TOKEN_CACHE_SECONDS=10) and off (0, so each call is one GetItem), and
// the same calls sent straight to the development upstream. Each case is a
// closed loop of conc workers for BENCH_WINDOW after a short warm-up.
//
// ns/op is window time per successful call (1/throughput); reads/op counts
// the DynamoDB calls per call, as dynamotest.Counting saw them.
func BenchmarkServe(b *testing.B) {
	w := window(b)
	on := startStack(b, map[string]string{config.EnvTokenCacheSeconds: "10"})
	off := startStack(b, map[string]string{config.EnvTokenCacheSeconds: "0"})
	tokensOn, tokensOff := make([]string, serveUsers), make([]string, serveUsers)
	for i, u := range users("bench-serve", serveUsers) {
		tokensOn[i] = on.createToken(b, u, "lisa-users")
		tokensOff[i] = off.createToken(b, u, "lisa-users")
	}
	type target struct {
		name, base string
		creds      []string
		reads      *dynamotest.Counting
	}
	targets := []target{
		{"upstream", on.Config.ServeUpstreamURL, []string{on.Config.ServeUpstreamKey}, nil},
		{"stack-cache-on", on.URL + "/v2/serve", tokensOn, on.Reads},
		{"stack-cache-off", off.URL + "/v2/serve", tokensOff, off.Reads},
	}
	for _, ep := range serveEndpoints {
		for _, conc := range []int{1, 32} {
			for _, t := range targets {
				b.Run(fmt.Sprintf("endpoint=%s/conc=%d/target=%s", ep.name, conc, t.name), func(b *testing.B) {
					progress("serve %s %s, %d workers, %v window", t.name, ep.name, conc, w)
					var before map[string]int
					r, a := measureServeLoad(b, w, t.base, t.creds, ep, conc, func() {
						if t.reads != nil {
							before = t.reads.Counts()
						}
					})
					if t.reads != nil && r.OK > 0 {
						after := t.reads.Counts()
						calls := 0
						for op, n := range after {
							calls += n - before[op]
						}
						b.ReportMetric(float64(calls)/float64(r.OK+r.Failed), "reads/op")
					}
					reportLoad(b, r, a)
				})
			}
		}
	}
}

// serveEndpoint is one non-streamed call of figures 5 and 8.
type serveEndpoint struct {
	name, method, path string
	body               []byte
}

var serveEndpoints = []serveEndpoint{
	{"models", http.MethodGet, "/models", nil},
	{"chat", http.MethodPost, "/chat/completions", chatBody},
}

// measureServeLoad runs ep against base for one window of closed-loop load
// with conc workers, after an uncounted warm-up; beforeWindow runs between
// the two (to snapshot counters). It fails b on a load error.
func measureServeLoad(b *testing.B, w time.Duration, base string, creds []string, ep serveEndpoint, conc int, beforeWindow func()) (bench.Result, allocs) {
	b.Helper()
	load := bench.Load{
		Client:      bench.NewClient(conc),
		Concurrency: conc,
		Request: func(worker int) (*http.Request, error) {
			return newRequest(ep.method, base+ep.path, creds[worker%len(creds)], ep.body)
		},
	}
	defer load.Client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), w+time.Minute)
	defer cancel()
	load.Duration = warmup(w)
	if _, err := bench.Run(ctx, load); err != nil {
		b.Fatal(err)
	}
	beforeWindow()
	load.Duration = w
	var r bench.Result
	var err error
	a := measureAllocs(func() { r, err = bench.Run(ctx, load) })
	if err != nil {
		b.Fatal(err)
	}
	return r, a
}

// warmup is the uncounted run before a window: long enough to open every
// connection and fill the caches, short against the window.
func warmup(w time.Duration) time.Duration {
	return min(max(w/20, 200*time.Millisecond), 500*time.Millisecond)
}
