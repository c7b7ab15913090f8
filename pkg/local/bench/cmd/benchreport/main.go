// Command benchreport turns the Go benchmark output of `make bench` into
// BENCHMARKS.md and prints the same Markdown on stdout.
//
//	go run ./pkg/local/bench/cmd/benchreport -o BENCHMARKS.md build/bench/micro.txt build/bench/coldstart.txt build/bench/load.txt
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/llmgw/apitokens/pkg/local/bench"
)

func main() {
	out := flag.String("o", "BENCHMARKS.md", "file to write the report to (stdout always gets a copy)")
	window := flag.Duration("window", 10*time.Second, "the BENCH_WINDOW the load benchmarks ran with")
	count := flag.Int("count", 1, "how many times figures 1 and 3 ran (BENCH_COUNT)")
	started := flag.Int64("started", 0, "Unix time at which make bench started, to report its wall time")
	elapsed := flag.Duration("elapsed", 0, "wall time of the run, when regenerating the report later (instead of -started)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: benchreport [flags] bench-output.txt...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *started > 0 {
		*elapsed = time.Since(time.Unix(*started, 0))
	}
	if err := run(*out, *window, *count, *elapsed, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(out string, window time.Duration, count int, elapsed time.Duration, files []string) error {
	var set bench.Set
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = set.Parse(f)
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(set.Results) == 0 {
		return fmt.Errorf("no benchmark results in %v", files)
	}
	meta := bench.Meta{
		Date:      time.Now(),
		NumCPU:    runtime.NumCPU(),
		GoVersion: runtime.Version(),
		Window:    window,
		Count:     count,
		Elapsed:   elapsed,
	}
	var b bytes.Buffer
	if err := bench.Report(&b, &set, meta); err != nil {
		return err
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	_, err := os.Stdout.Write(b.Bytes())
	return err
}
