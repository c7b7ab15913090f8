package bench_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/llmgw/apitokens/pkg/config"
)

// lastUsedResolutions are figure 9's settings of
// LAST_USED_RESOLUTION_SECONDS: off, every second (far more often than
// anyone needs, to make the writes visible in a short window) and the
// default.
var lastUsedResolutions = []int{0, 1, int(config.DefaultLastUsedResolution.Seconds())}

// BenchmarkLastUsed is figure 9: what recording lastUsedAt costs a serve
// call. Non-streamed chat through the local stack (decision cache on,
// serveUsers distinct tokens), once per resolution; writes/op counts the
// UpdateItem calls per call in the window, reads/op every other DynamoDB
// call, as dynamotest.Counting saw them.
func BenchmarkLastUsed(b *testing.B) {
	w := window(b)
	ep := serveEndpoints[1] // chat
	for _, res := range lastUsedResolutions {
		s := startStack(b, map[string]string{config.EnvTokenCacheSeconds: "10", config.EnvLastUsedResolution: strconv.Itoa(res)})
		tokens := make([]string, serveUsers)
		for i, u := range users(fmt.Sprintf("bench-lastused-%d", res), serveUsers) {
			tokens[i] = s.createToken(b, u, "lisa-users")
		}
		for _, conc := range []int{1, 32} {
			b.Run(fmt.Sprintf("resolution=%d/conc=%d", res, conc), func(b *testing.B) {
				progress("last used: resolution %ds, chat, %d workers, %v window", res, conc, w)
				var before map[string]int
				r, a := measureServeLoad(b, w, s.URL+"/v2/serve", tokens, ep, conc, func() { before = s.Reads.Counts() })
				after := s.Reads.Counts()
				writes, reads := 0, 0
				for op, n := range after {
					if op == "UpdateItem" {
						writes += n - before[op]
					} else {
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
