package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Line is one result line of Go benchmark output, e.g.
//
//	BenchmarkDecision/cred=api-token/cache=hit-2  1701668  864.0 ns/op  288 B/op  4 allocs/op
type Line struct {
	// Pkg is the import path from the preceding "pkg:" line.
	Pkg string
	// Name is the full name without the -GOMAXPROCS suffix.
	Name string
	// Procs is that suffix (1 when absent).
	Procs int
	// Iterations is b.N.
	Iterations int64
	// Metrics maps each unit ("ns/op", "allocs/op", "req/s", ...) to its
	// value.
	Metrics map[string]float64
}

// Set is everything parsed from one or more benchmark outputs.
type Set struct {
	// Config holds the last value of each "key: value" header line
	// (goos, goarch, cpu, ...).
	Config  map[string]string
	Results []Line
}

// Parse reads Go benchmark output (the format `go test -bench` prints and
// benchstat reads) and adds it to s. Lines that are neither configuration
// nor results (PASS, ok, progress) are skipped.
func (s *Set) Parse(r io.Reader) error {
	if s.Config == nil {
		s.Config = map[string]string{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	pkg := ""
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "Benchmark") {
			res, ok, err := parseResult(text)
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			if ok {
				res.Pkg = pkg
				s.Results = append(s.Results, res)
			}
			continue
		}
		// Configuration lines are "key: value" with a lower-case key
		// without spaces.
		k, v, ok := strings.Cut(text, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") || k != strings.ToLower(k) {
			continue
		}
		v = strings.TrimSpace(v)
		if k == "pkg" {
			pkg = v
		}
		s.Config[k] = v
	}
	return sc.Err()
}

// parseResult parses a result line. ok is false for a "Benchmark..." line
// that is not a result (a benchmark's name printed before its figures, or
// log output).
func parseResult(line string) (Line, bool, error) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return Line{}, false, nil
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Line{}, false, nil
	}
	r := Line{Name: f[0], Procs: 1, Iterations: n, Metrics: map[string]float64{}}
	if i := strings.LastIndexByte(r.Name, '-'); i > 0 {
		if p, err := strconv.Atoi(r.Name[i+1:]); err == nil {
			r.Name, r.Procs = r.Name[:i], p
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Line{}, false, fmt.Errorf("%s: value %q of %s is not a number", r.Name, f[i], f[i+1])
		}
		r.Metrics[f[i+1]] = v
	}
	return r, true, nil
}

// Metric returns the median of unit over every result named name (several
// with go test -count), and whether there was any.
func (s *Set) Metric(name, unit string) (float64, bool) {
	var vs []float64
	for _, r := range s.Results {
		if r.Name != name {
			continue
		}
		if v, ok := r.Metrics[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	return Median(vs), true
}

// Ratios returns, sorted, the ratios num/den of unit for each run: the
// i-th result named num over the i-th named den. Runs repeated whole (make
// bench interleaves them) pair up benchmarks that ran side by side, so
// each ratio is immune to the machine's speed drifting between runs.
func (s *Set) Ratios(num, den, unit string) []float64 {
	values := func(name string) []float64 {
		var vs []float64
		for _, r := range s.Results {
			if v, ok := r.Metrics[unit]; ok && r.Name == name {
				vs = append(vs, v)
			}
		}
		return vs
	}
	n, d := values(num), values(den)
	var out []float64
	for i := range min(len(n), len(d)) {
		if d[i] != 0 {
			out = append(out, n[i]/d[i])
		}
	}
	slices.Sort(out)
	return out
}

// Median returns the median of sorted values, or NaN for none.
func Median(sorted []float64) float64 {
	switch n := len(sorted); {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return sorted[n/2]
	default:
		return (sorted[n/2-1] + sorted[n/2]) / 2
	}
}

// Has reports whether any result is named name.
func (s *Set) Has(name string) bool {
	for _, r := range s.Results {
		if r.Name == name {
			return true
		}
	}
	return false
}
