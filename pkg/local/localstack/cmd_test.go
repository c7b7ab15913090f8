package localstack_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/local/localstack"
)

// TestCommandStopsCleanlyOnSignal runs the command behind `make run` and
// stops it as Ctrl-C (SIGINT) and as a service manager (SIGTERM) would: it
// must say it stopped and exit 0, or make reports the signal as an error.
func TestCommandStopsCleanlyOnSignal(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("building the command needs the go tool: %v", err)
	}
	endpoint := dltest.Endpoint(t)
	bin := filepath.Join(t.TempDir(), "localstack")
	if out, err := exec.Command(goTool, "build", "-o", bin, "./cmd/localstack").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(),
				localstack.EnvLocalAddr+"=127.0.0.1:0",
				localstack.EnvDeploymentName+"="+uniqueName(t),
				"DYNAMODB_ENDPOINT="+endpoint,
			)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill() }() // if the test fails before the end

			// Read the banner up to the line that says how to stop, then the rest.
			lines := bufio.NewScanner(stdout)
			ready := make(chan bool, 1)
			rest := make(chan string, 1)
			go func() {
				seen := false
				for lines.Scan() {
					if strings.HasPrefix(lines.Text(), "Press Ctrl-C") {
						seen = true
						ready <- true
						break
					}
				}
				if !seen {
					ready <- false
				}
				b, _ := io.ReadAll(stdout)
				rest <- string(b)
			}()
			select {
			case ok := <-ready:
				if !ok {
					t.Fatalf("the command ended before it was ready; stderr:\n%s", stderr.String())
				}
			case <-time.After(2 * time.Minute):
				t.Fatal("the command did not get ready within 2 minutes")
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			after := <-rest
			err = cmd.Wait()
			if err != nil {
				t.Fatalf("after %v the command ended with %v, want exit status 0; stdout after the signal:\n%s\nstderr:\n%s", sig, err, after, stderr.String())
			}
			if !strings.Contains(after, "==> stopping") || !strings.Contains(after, "==> stopped") {
				t.Errorf("after %v the command did not say it stopped:\n%s", sig, after)
			}
		})
	}
}
