package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Load describes a closed-loop load: Concurrency workers, each sending its
// next request as soon as the previous one has been answered, for Duration.
type Load struct {
	// Client sends the requests; if nil, a NewClient(Concurrency) whose
	// connections are closed when Run returns.
	Client *http.Client
	// Concurrency is the number of workers (at least 1).
	Concurrency int
	// Duration is the measured window.
	Duration time.Duration
	// Warmup runs the same load before the window, uncounted, so that
	// connections, caches and JIT compilers are warm when it starts.
	Warmup time.Duration
	// Request returns a new request for worker (0..Concurrency-1). It is
	// called once per request, so bodies can be fresh readers.
	Request func(worker int) (*http.Request, error)
	// Expect is the status that counts as success; 200 if zero.
	Expect int
}

// Result is what a Run measured in its window.
type Result struct {
	Concurrency int
	// Elapsed runs from the start of the window until the last request
	// started in it was answered.
	Elapsed time.Duration
	// OK counts answers with the expected status; Failed everything else,
	// transport errors included.
	OK, Failed int
	// Statuses counts the unexpected statuses; 0 stands for a transport
	// error.
	Statuses map[int]int
	// FirstError describes the first failure, if any.
	FirstError string
	// latencies of the successful requests, sorted.
	latencies []time.Duration
}

// PerSecond is successful requests per second of the window.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of the
// successful requests' latencies, or 0 if there were none.
func (r Result) Percentile(p float64) time.Duration { return Percentile(r.latencies, p) }

// Mean returns the mean latency of the successful requests.
func (r Result) Mean() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range r.latencies {
		sum += d
	}
	return sum / time.Duration(len(r.latencies))
}

// Percentile returns the nearest-rank p-th percentile of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// NewClient returns a client for loopback load: enough idle connections
// per host for every worker (the default of 2 would open and close a
// connection for most requests), no compression, no proxy, a 30 s timeout.
func NewClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        2 * max(concurrency, 1),
			MaxIdleConnsPerHost: 2 * max(concurrency, 1),
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
}

// Run applies l: first the warm-up, then the measured window. It fails only
// on a bad Load or when ctx ends; failed requests are counted, not returned.
func Run(ctx context.Context, l Load) (Result, error) {
	if l.Concurrency < 1 || l.Duration <= 0 || l.Request == nil {
		return Result{}, errors.New("bench: Load needs Concurrency >= 1, Duration > 0 and Request")
	}
	if l.Client == nil {
		l.Client = NewClient(l.Concurrency)
		// Idle keep-alive connections would hold up the server's
		// graceful shutdown.
		defer l.Client.CloseIdleConnections()
	}
	if l.Expect == 0 {
		l.Expect = http.StatusOK
	}
	if l.Warmup > 0 {
		if _, err := run(ctx, l, l.Warmup); err != nil {
			return Result{}, err
		}
	}
	return run(ctx, l, l.Duration)
}

type worker struct {
	ok, failed int
	statuses   map[int]int
	firstErr   string
	latencies  []time.Duration
}

func run(ctx context.Context, l Load, window time.Duration) (Result, error) {
	start := time.Now()
	end := start.Add(window)
	workers := make([]worker, l.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func(id int, w *worker) {
			defer wg.Done()
			w.statuses = map[int]int{}
			for time.Now().Before(end) && ctx.Err() == nil {
				req, err := l.Request(id)
				if err != nil {
					w.fail(0, fmt.Sprintf("build request: %v", err))
					return
				}
				t0 := time.Now()
				status, err := do(l.Client, req.WithContext(ctx))
				d := time.Since(t0)
				switch {
				case err != nil:
					w.fail(0, err.Error())
				case status != l.Expect:
					w.fail(status, fmt.Sprintf("%s %s answered %d, want %d", req.Method, req.URL.Path, status, l.Expect))
				default:
					w.ok++
					w.latencies = append(w.latencies, d)
				}
			}
		}(i, &workers[i])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r := Result{Concurrency: l.Concurrency, Elapsed: time.Since(start), Statuses: map[int]int{}}
	for _, w := range workers {
		r.OK += w.ok
		r.Failed += w.failed
		for s, n := range w.statuses {
			r.Statuses[s] += n
		}
		if r.FirstError == "" {
			r.FirstError = w.firstErr
		}
		r.latencies = append(r.latencies, w.latencies...)
	}
	slices.Sort(r.latencies)
	return r, nil
}

func (w *worker) fail(status int, msg string) {
	w.failed++
	w.statuses[status]++
	if w.firstErr == "" {
		w.firstErr = msg
	}
}

// do sends req and reads the whole answer, so the connection is reused.
func do(c *http.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, err
}
