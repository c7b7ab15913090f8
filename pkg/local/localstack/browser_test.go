package localstack_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Environment of the browser tests.
const (
	// EnvRequireBrowser makes missing browser-test prerequisites (Chromium,
	// the console's build and node_modules) a failure instead of a skip;
	// make test sets it.
	envRequireBrowser = "REQUIRE_BROWSER"
	chromiumPath      = "/usr/bin/chromium"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above " + dir)
		}
	}
}

// TestConsoleInTheBrowser runs the console's browser tests (web/e2e, node's
// test runner with playwright-core driving Debian's Chromium) against a
// real local stack: DynamoDB Local, the gateway, the development issuer's
// sign-in page and the built console.
func TestConsoleInTheBrowser(t *testing.T) {
	root := repoRoot(t)
	need := map[string]string{
		chromiumPath: "Chromium (apt-get install chromium; make deps does it)",
		filepath.Join(root, "build", "web", "index.html"):             "the built console (make web)",
		filepath.Join(root, "web", "node_modules", "playwright-core"): "the console's node modules (make web runs npm ci)",
		filepath.Join(root, "web", "e2e"):                             "the browser tests",
	}
	for path, what := range need {
		if _, err := os.Stat(path); err != nil {
			if v, _ := strconv.ParseBool(os.Getenv(envRequireBrowser)); v {
				t.Fatalf("%s is missing (%s)", what, path)
			}
			t.Skipf("%s is missing (%s); set %s=1 to make this a failure", what, path, envRequireBrowser)
		}
	}
	s := startStack(t, map[string]string{"TOKEN_CACHE_SECONDS": "1", "WEB_DIR": filepath.Join(root, "build", "web")})
	shots := filepath.Join(root, "build", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1", "--test-reporter=spec", "e2e/")
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(), "STACK_URL="+s.URL, "CHROMIUM="+chromiumPath, "SCREENSHOT_DIR="+shots)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("browser tests:\n%s", out.String())
	var ee *exec.ExitError
	if errors.As(err, &ee) || err != nil {
		t.Fatalf("browser tests failed: %v", err)
	}
}
