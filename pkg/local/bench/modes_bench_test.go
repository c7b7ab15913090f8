package bench_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/bench"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

// Figure 8's paced stream: streamEvents content events streamInterval
// apart, asked of the development upstream in the user message.
const (
	streamEvents   = 10
	streamInterval = 100 * time.Millisecond
	streamSamples  = 10
)

var streamBody = []byte(fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":"pace:%dx%d"}]}`,
	devupstream.ModelEcho, streamEvents, streamInterval.Milliseconds()))

// BenchmarkServeModes is figure 8: the serve path in its two modes.
//
// stream/target=...: a paced chat stream (streamEvents content events
// streamInterval apart), streamSamples times one after the other, straight
// from the development upstream and through a stack in each SERVE_MODE.
// first-* is the time from sending the request until the first content
// event has been read, last-* until the stream's end ([DONE]); p50, min and
// max over the samples.
//
// endpoint=.../conc=.../target=...: figure 5's non-streamed calls, decision
// cache on, straight to the upstream, through a bare reverse proxy (the
// calibration: what any proxy in front of this upstream costs on this
// machine) and through a container-mode stack (lambda mode is figure 5's
// stack-cache-on rows).
func BenchmarkServeModes(b *testing.B) {
	w := window(b)
	cacheOn := map[string]string{config.EnvTokenCacheSeconds: "10"}
	stacks := map[string]*stack{}
	for _, mode := range []string{config.ServeModeLambda, config.ServeModeContainer} {
		env := map[string]string{config.EnvServeMode: mode}
		for k, v := range cacheOn {
			env[k] = v
		}
		stacks[mode] = startStack(b, env)
	}
	ct := stacks[config.ServeModeContainer]
	type target struct {
		name, base string
		creds      []string
	}
	upstream := target{"upstream", ct.Config.ServeUpstreamURL, []string{ct.Config.ServeUpstreamKey}}
	tokens := map[string][]string{}
	for mode, s := range stacks {
		for _, u := range users("bench-modes-"+mode, serveUsers) {
			tokens[mode] = append(tokens[mode], s.createToken(b, u, "lisa-users"))
		}
	}
	streamTargets := []target{upstream}
	for _, mode := range []string{config.ServeModeLambda, config.ServeModeContainer} {
		streamTargets = append(streamTargets, target{"stack-" + mode, stacks[mode].URL + "/v2/serve", tokens[mode][:1]})
	}
	for _, t := range streamTargets {
		b.Run("stream/target="+t.name, func(b *testing.B) {
			progress("serve modes: %d paced streams (%dx%v) from %s", streamSamples, streamEvents, streamInterval, t.name)
			client := bench.NewClient(1)
			defer client.CloseIdleConnections()
			// One uncounted stream opens the connection and fills the
			// decision cache.
			if _, err := pacedStream(client, t.base, t.creds[0]); err != nil {
				b.Fatal(err)
			}
			var first, last latencies
			for range streamSamples {
				s, err := pacedStream(client, t.base, t.creds[0])
				if err != nil {
					b.Fatal(err)
				}
				first, last = append(first, s.first), append(last, s.last)
			}
			first.reportAs(b, "first")
			last.reportAs(b, "last")
			b.ReportMetric(float64(streamEvents), "events")
			b.ReportMetric(float64(len(first)), "samples")
			b.ReportMetric(float64(bench.Percentile(sorted(last), 50).Nanoseconds()), "ns/op")
			progress("  %s: first event p50 %v [%v-%v], last p50 %v", b.Name(),
				bench.Percentile(sorted(first), 50).Round(time.Microsecond), slices.Min(first).Round(time.Microsecond), slices.Max(first).Round(time.Microsecond),
				bench.Percentile(sorted(last), 50).Round(time.Microsecond))
		})
	}

	loadTargets := []target{upstream, {"bare-proxy", bareProxy(b, ct.Config.ServeUpstreamURL), []string{ct.Config.ServeUpstreamKey}}, {"stack-container", ct.URL + "/v2/serve", tokens[config.ServeModeContainer]}}
	for _, ep := range serveEndpoints {
		for _, conc := range []int{1, 32} {
			for _, t := range loadTargets {
				b.Run(fmt.Sprintf("endpoint=%s/conc=%d/target=%s", ep.name, conc, t.name), func(b *testing.B) {
					progress("serve modes: %s %s, %d workers, %v window", t.name, ep.name, conc, w)
					r, a := measureServeLoad(b, w, t.base, t.creds, ep, conc, func() {})
					reportLoad(b, r, a)
				})
			}
		}
	}
}

// bareProxy serves an httputil.ReverseProxy from /v2/serve/* to upstream,
// with the upstream key the caller sent and nothing else: no
// authentication, no body check, no log. It is figure 8's calibration, the
// cost of a second loopback hop alone on the cores the upstream and the
// load generator share.
func bareProxy(b *testing.B, upstream string) string {
	b.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		b.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // as the serve handler's own client
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.URL.Path = u.Path + strings.TrimPrefix(pr.In.URL.Path, "/v2/serve")
			pr.Out.URL.RawPath = ""
		},
		Transport: tr,
	}
	s := httptest.NewServer(p)
	b.Cleanup(func() { tr.CloseIdleConnections(); s.Close() })
	return s.URL + "/v2/serve"
}

// streamTimes is one paced stream as the client saw it.
type streamTimes struct{ first, last time.Duration }

// pacedStream sends figure 8's streamed chat to base and times its first
// content event and its end; it fails unless every content event arrived.
func pacedStream(client *http.Client, base, bearer string) (streamTimes, error) {
	req, err := newRequest(http.MethodPost, base+"/chat/completions", bearer, streamBody)
	if err != nil {
		return streamTimes{}, err
	}
	var st streamTimes
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return st, fmt.Errorf("stream from %s: status %d: %s", base, resp.StatusCode, raw)
	}
	rd := bufio.NewReader(resp.Body)
	events, done := 0, false
	for !done {
		line, err := rd.ReadString('\n')
		if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data:"); ok {
			data = strings.TrimSpace(data)
			if data == "[DONE]" {
				st.last, done = time.Since(start), true
				break
			}
			var chunk struct {
				Choices []struct {
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
				} `json:"choices"`
			}
			if jerr := json.Unmarshal([]byte(data), &chunk); jerr != nil {
				return st, fmt.Errorf("stream from %s: %v: %q", base, jerr, data)
			}
			for _, c := range chunk.Choices {
				if c.Delta.Content != "" {
					if events == 0 {
						st.first = time.Since(start)
					}
					events++
				}
			}
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			return st, fmt.Errorf("stream from %s: %w", base, err)
		}
	}
	if !done || events != streamEvents {
		return st, fmt.Errorf("stream from %s: %d content events, [DONE] %v; want %d and [DONE]", base, events, done, streamEvents)
	}
	return st, nil
}

func sorted(l latencies) []time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s
}

// reportAs reports the median, minimum and maximum of l as <prefix>-p50-ns,
// <prefix>-min-ns and <prefix>-max-ns.
func (l latencies) reportAs(b *testing.B, prefix string) {
	b.Helper()
	s := sorted(l)
	b.ReportMetric(float64(bench.Percentile(s, 50).Nanoseconds()), prefix+"-p50-ns")
	b.ReportMetric(float64(s[0].Nanoseconds()), prefix+"-min-ns")
	b.ReportMetric(float64(s[len(s)-1].Nanoseconds()), prefix+"-max-ns")
}
