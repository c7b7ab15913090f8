package bench_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// chromium is Debian's Chromium, which the browser tests use too.
const chromium = "/usr/bin/chromium"

// BenchmarkConsole is figure 7: the web console in Chromium against a
// local stack with seedTokens tokens in its table (seeded as for figure
// 6). web/e2e/bench.mjs (playwright-core) does the measuring and prints
// Go benchmark lines, which this echoes to stdout for the report:
//
//	op=first-load-js   gzipped size of the JavaScript index.html loads at start
//	op=first-load-css  the same for its stylesheets
//	op=load-10000      navigation to the admin table with every token loaded
//	op=filter          "Find tokens" until the rows show the matches
//	op=sort            a click on the Username header until the order changes
//
// It skips, saying why, without Chromium, node, the console's build or its
// node modules (make web). Its own result line is the whole run's wall
// time, stack start and seeding included.
func BenchmarkConsole(b *testing.B) {
	root := moduleRoot(b)
	web := filepath.Join(root, "web")
	build := filepath.Join(root, "build", "web")
	for path, what := range map[string]string{
		chromium:                           "Chromium (apt-get install chromium; make deps does it)",
		filepath.Join(build, "index.html"): "the built console (make web)",
		filepath.Join(web, "node_modules", "playwright-core"): "the console's node modules (make web runs npm ci)",
	} {
		if _, err := os.Stat(path); err != nil {
			skip(b, fmt.Sprintf("%s is missing (%s)", what, path))
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip(b, "node is not on PATH (make deps installs it)")
	}
	s := startStack(b, map[string]string{"WEB_DIR": build})
	seed(b, s)

	progress("console: Chromium against the stack (web/e2e/bench.mjs)")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e/bench.mjs")
	cmd.Dir = web
	cmd.Env = append(os.Environ(), "STACK_URL="+s.URL, "CHROMIUM="+chromium,
		fmt.Sprintf("BENCH_PROCS=%d", runtime.GOMAXPROCS(0)), fmt.Sprintf("BENCH_TOKENS=%d", seedTokens))
	cmd.Stderr = os.Stderr // progress lines, each starting with "# "
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	results := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		text := sc.Text()
		if strings.HasPrefix(text, "Benchmark") {
			results++
		} else {
			text = "# " + text // not a result nor a configuration line
		}
		fmt.Println(text)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("web/e2e/bench.mjs: %v", err)
	}
	if results == 0 {
		b.Fatal("web/e2e/bench.mjs printed no result")
	}
}

// skip skips b and says why on stderr too: without -v, go test does not
// print a skipped benchmark's reason, and make bench would pass in silence.
func skip(b *testing.B, why string) {
	b.Helper()
	progress("console: skipped, figure 7 not measured: %s", why)
	b.Skip(why)
}

// moduleRoot is the folder of go.mod above the working directory.
func moduleRoot(b *testing.B) string {
	b.Helper()
	dir, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			b.Fatalf("no go.mod above %s", dir)
		}
	}
}
