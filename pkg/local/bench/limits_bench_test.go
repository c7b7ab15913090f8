package bench_test

import (
	"fmt"
	"testing"

	"github.com/llmgw/apitokens/pkg/config"
)

// limitsSetups are figure 10's configurations of the serve path, from no
// metering at all to limits that need a read of the month's usage. The
// limits are far above what the window can reach, so every call passes and
// only their cost shows.
var limitsSetups = []struct {
	name string
	env  map[string]string
}{
	{"off", map[string]string{config.EnvUsageTracking: "false"}},
	{"usage", map[string]string{config.EnvUsageTracking: "true"}},
	{"requests", map[string]string{config.EnvUsageTracking: "true",
		config.EnvDefaultTokenLimits: `{"requestsPerMinute":1000000000,"requestsPerHour":1000000000,"requestsPerDay":1000000000,"tokensPerDay":1000000000}`}},
	{"monthly", map[string]string{config.EnvUsageTracking: "true",
		config.EnvDefaultTokenLimits: `{"requestsPerMinute":1000000000,"tokensPerMonth":1000000000000,"budgetPerMonth":1000000}`},
	},
}

// BenchmarkLimits is figure 10: what limits and usage accounting cost a
// serve call. Non-streamed chat through the local stack (decision cache on,
// lastUsedAt off so that only metering writes), serveUsers distinct
// tokens, once per setup and serve mode; writes/op and reads/op count the
// DynamoDB calls per call in the window (token and usage tables together).
func BenchmarkLimits(b *testing.B) {
	w := window(b)
	ep := serveEndpoints[1] // chat
	for _, mode := range []string{config.ServeModeLambda, config.ServeModeContainer} {
		for _, setup := range limitsSetups {
			env := map[string]string{config.EnvTokenCacheSeconds: "10", config.EnvLastUsedResolution: "0", config.EnvServeMode: mode}
			for k, v := range setup.env {
				env[k] = v
			}
			s := startStack(b, env)
			tokens := make([]string, serveUsers)
			for i, u := range users("bench-limits-"+setup.name, serveUsers) {
				tokens[i] = s.createToken(b, u, "lisa-users")
			}
			for _, conc := range []int{1, 32} {
				b.Run(fmt.Sprintf("mode=%s/setup=%s/conc=%d", mode, setup.name, conc), func(b *testing.B) {
					progress("limits: %s mode, %s, chat, %d workers, %v window", mode, setup.name, conc, w)
					var before map[string]int
					r, a := measureServeLoad(b, w, s.URL+"/v2/serve", tokens, ep, conc, func() { before = s.Reads.Counts() })
					after := s.Reads.Counts()
					writes, reads := 0, 0
					for op, n := range after {
						switch op {
						case "UpdateItem", "PutItem", "TransactWriteItems", "DeleteItem":
							writes += n - before[op]
						default:
							reads += n - before[op]
						}
					}
					calls := float64(r.OK + r.Failed)
					b.ReportMetric(float64(writes)/calls, "writes/op")
					b.ReportMetric(float64(reads)/calls, "reads/op")
					reportLoad(b, r, a)
				})
			}
		}
	}
}
