package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/local/lambdaemu"
)

// BenchmarkColdStart is figure 4 of BENCHMARKS.md: each iteration starts a
// fresh authorizer or serve `bootstrap` process under the Runtime API
// emulator and times it from process start until its first invocation - an
// API token that needs one DynamoDB read, and for serve also a call to the
// upstream - has been answered. Run it with -benchtime=20x for the median
// of 20 (make bench does).
//
// The binaries are built as `make build` builds them (CGO_ENABLED=0,
// -tags lambda.norpc, -trimpath, -ldflags='-s -w'), for this machine's
// architecture so that they can run here; binary-bytes is that file's size.
func BenchmarkColdStart(b *testing.B) {
	l := newLive(b, nil)
	env := l.Env
	plain := l.apiToken(b, "bench-user", "bench")

	fns := []struct {
		name, pkg, event, placeholder string
		ok                            func(lambdaemu.Result) error
	}{
		{"authorizer", "../authorizer", "../authorizer/testdata/request.json", "REPLACED_BY_TEST", authorizerAllowed},
		{"serve", "./serve", "serve/testdata/models-single-value.json", "user-token", serveAnswered},
	}
	for _, fn := range fns {
		bin := buildBootstrap(b, fn.pkg)
		fi, err := os.Stat(bin)
		if err != nil {
			b.Fatal(err)
		}
		event, err := os.ReadFile(fn.event)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(event, []byte(fn.placeholder)) {
			b.Fatalf("%s does not contain %q", fn.event, fn.placeholder)
		}
		event = bytes.ReplaceAll(event, []byte(fn.placeholder), []byte(plain))

		b.Run("fn="+fn.name, func(b *testing.B) {
			if b.N == 1 {
				// Printed in the first, one-iteration run, before the
				// benchmark's name line, so result lines stay whole; "# "
				// so that benchstat does not read a configuration line.
				fmt.Fprintf(os.Stderr, "# bench: cold start of %s (%.1f MB): starting it fresh for each iteration\n", fn.name, float64(fi.Size())/1e6)
			}
			var starts, inits []time.Duration
			for range b.N {
				d, init := coldStart(b, bin, env, event, fn.ok)
				starts, inits = append(starts, d), append(inits, init)
			}
			slices.Sort(starts)
			slices.Sort(inits)
			var sum time.Duration
			for _, d := range starts {
				sum += d
			}
			b.ReportMetric(float64(sum.Nanoseconds())/float64(len(starts)), "ns/op")
			b.ReportMetric(float64(median(starts).Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(starts[0].Nanoseconds()), "min-ns")
			b.ReportMetric(float64(starts[len(starts)-1].Nanoseconds()), "max-ns")
			b.ReportMetric(float64(median(inits).Nanoseconds()), "init-p50-ns")
			b.ReportMetric(float64(fi.Size()), "binary-bytes")
		})
	}
}

// coldStart starts bin, invokes it once and returns the time from process
// start to the answer, and the init duration (start to the first request
// for an event).
func coldStart(b *testing.B, bin string, env map[string]string, event []byte, ok func(lambdaemu.Result) error) (time.Duration, time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	fn, err := lambdaemu.Start(ctx, lambdaemu.Options{Path: bin, Env: env, Stdout: io.Discard, Stderr: &stderr})
	if err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	res, err := fn.Invoke(ctx, event)
	d := time.Since(fn.StartedAt())
	init := fn.InitDuration()
	b.StopTimer()
	defer b.StartTimer()
	_ = fn.Close()
	if err == nil {
		err = ok(res)
	}
	if err != nil {
		b.Fatalf("first invocation of %s: %v\nstderr:\n%s", bin, err, stderr.String())
	}
	return d, init
}

func authorizerAllowed(res lambdaemu.Result) error {
	var resp events.APIGatewayCustomAuthorizerResponse
	if res.Err != nil {
		return res.Err
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		return err
	}
	if len(resp.PolicyDocument.Statement) == 0 || resp.PolicyDocument.Statement[0].Effect != "Allow" {
		return fmt.Errorf("not allowed: %s", res.Payload)
	}
	return nil
}

func serveAnswered(res lambdaemu.Result) error {
	var resp events.ALBTargetGroupResponse
	if res.Err != nil {
		return res.Err
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, resp.Body)
	}
	return nil
}

func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// buildBootstrap builds pkg with the flags of `make build`, for the host.
func buildBootstrap(b *testing.B, pkg string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, strings.TrimSpace(string(msg)))
	}
	return out
}
