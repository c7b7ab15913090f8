// Command loadgen sends closed-loop HTTP load to one URL and prints the
// throughput and latency, as a line of Go benchmark output (so benchstat can
// compare runs) and in words. It is the load generator of `make bench`,
// usable on its own against `make run`:
//
//	TOKEN=...   # from POST /api-tokens/
//	go run ./pkg/local/bench/cmd/loadgen -c 32 -t 10s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v2/serve/models
//
// It refuses URLs that are not on a loopback address unless -any-host is
// given: it is meant for the local stack, not for someone else's server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/llmgw/apitokens/pkg/local/bench"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	var hs headers
	method := flag.String("X", http.MethodGet, "request method")
	body := flag.String("d", "", "request body (sent with Content-Type: application/json)")
	conc := flag.Int("c", 1, "concurrent workers")
	dur := flag.Duration("t", 10*time.Second, "measured window")
	warm := flag.Duration("warmup", time.Second, "uncounted warm-up before the window")
	expect := flag.Int("expect", http.StatusOK, "status that counts as success")
	name := flag.String("name", "Load", "benchmark name for the output line")
	anyHost := flag.Bool("any-host", false, "allow a URL that is not on a loopback address")
	flag.Var(&hs, "H", "request header \"Name: value\" (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: loadgen [flags] URL")
		flag.PrintDefaults()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *method, *body, hs, *conc, *dur, *warm, *expect, *name, *anyHost); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(target, method, body string, hs headers, conc int, dur, warm time.Duration, expect int, name string, anyHost bool) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an http(s) URL", target)
	}
	if !anyHost && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%s is not a loopback address (use -any-host to load another host)", u.Hostname())
	}
	h := http.Header{}
	for _, kv := range hs {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return fmt.Errorf("header %q is not \"Name: value\"", kv)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if body != "" && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	load := bench.Load{
		Concurrency: conc,
		Duration:    dur,
		Warmup:      warm,
		Expect:      expect,
		Request: func(int) (*http.Request, error) {
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, err := http.NewRequest(method, target, rd)
			if err != nil {
				return nil, err
			}
			req.Header = h.Clone()
			return req, nil
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), warm+dur+time.Minute)
	defer cancel()
	fmt.Fprintf(os.Stderr, "loadgen: %s %s, %d workers, %v warm-up, %v window\n", method, target, conc, warm, dur)
	r, err := bench.Run(ctx, load)
	if err != nil {
		return err
	}
	if r.OK == 0 {
		return fmt.Errorf("no request answered %d (%d failed; first: %s)", expect, r.Failed, r.FirstError)
	}
	fmt.Printf("Benchmark%s/conc=%d\t%d\t%.0f ns/op\t%.1f req/s\t%d mean-ns\t%d p50-ns\t%d p99-ns\t%d errors\n",
		name, conc, r.OK, float64(r.Elapsed.Nanoseconds())/float64(r.OK), r.PerSecond(),
		r.Mean().Nanoseconds(), r.Percentile(50).Nanoseconds(), r.Percentile(99).Nanoseconds(), r.Failed)
	fmt.Fprintf(os.Stderr, "loadgen: %d ok, %d failed in %v: %.0f req/s, p50 %v, p99 %v\n", r.OK, r.Failed,
		r.Elapsed.Round(time.Millisecond), r.PerSecond(), r.Percentile(50).Round(time.Microsecond), r.Percentile(99).Round(time.Microsecond))
	if r.Failed > 0 {
		return errors.New("some requests failed; first: " + r.FirstError)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
