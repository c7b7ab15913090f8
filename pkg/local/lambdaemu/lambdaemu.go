package lambdaemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/llmgw/apitokens/pkg/internal/syncbuf"
)

// MaxPayloadSize is Lambda's limit, in bytes, for the payload of a
// synchronous invocation and for the function's response. Enforcing it here
// makes an oversized event or answer fail in tests as it would in AWS.
const MaxPayloadSize = 6291556

// Defaults for the zero values of Options.
const (
	// DefaultTimeout is generous compared with Lambda's own 3 s default
	// because end-to-end tests call DynamoDB Local and a development upstream
	// on loaded CI machines; it stays above API Gateway's 29 s integration
	// limit so a test never fails on a deadline the deployment cannot hit.
	DefaultTimeout = 30 * time.Second
	// DefaultInitTimeout is Lambda's limit for the init phase.
	DefaultInitTimeout = 10 * time.Second
	// DefaultShutdownGrace is the time between SIGTERM and SIGKILL in Close.
	// Lambda allows 500 ms; more here so that a function flushing logs on a
	// loaded test machine is not killed half-way.
	DefaultShutdownGrace = 2 * time.Second
)

// Errors returned by Invoke, wrapped with detail (and with the tail of the
// process's output where the process is at fault). Match them with errors.Is.
var (
	// ErrClosed: Close was called.
	ErrClosed = errors.New("lambdaemu: function is closed")
	// ErrExited: the process is gone, before or while handling an invocation.
	ErrExited = errors.New("lambdaemu: function process exited")
	// ErrInit: the init phase failed, either reported through
	// /runtime/init/error or by the process exiting before it asked for its
	// first invocation (which is how a Go main that calls log.Fatal fails).
	ErrInit = errors.New("lambdaemu: function init failed")
	// ErrInitTimeout: the runtime did not ask for an invocation within
	// Options.InitTimeout; the binary is probably not a Lambda runtime, or it
	// blocks before lambda.Start.
	ErrInitTimeout = errors.New("lambdaemu: runtime did not ask for an invocation in time")
	// ErrTimeout: the function did not answer within Options.Timeout.
	ErrTimeout = errors.New("lambdaemu: invocation timed out")
)

// Options configures Start. Only Path is required.
type Options struct {
	// Path is the bootstrap binary. Its directory becomes the working
	// directory and LAMBDA_TASK_ROOT, as /var/task is in Lambda.
	Path string
	// Env is added to the minimal Lambda environment and overrides its
	// defaults (AWS_REGION, AWS_LAMBDA_FUNCTION_NAME, ...), except
	// AWS_LAMBDA_RUNTIME_API, which always points at the emulator. The test
	// process's own environment is not inherited.
	Env map[string]string
	// Stdout and Stderr receive the process's streams. When nil, the output
	// is kept in memory and readable with Function.Stdout and Function.Stderr.
	// Benchmarks should pass io.Discard to keep memory flat.
	Stdout, Stderr io.Writer
	// Timeout is the function timeout: the per-invocation deadline handed to
	// the runtime, after which Invoke fails with ErrTimeout. Default
	// DefaultTimeout.
	Timeout time.Duration
	// InitTimeout bounds how long Invoke waits for the runtime to ask for an
	// event: from process start for the first invocation, from the call for
	// later ones. Default DefaultInitTimeout.
	InitTimeout time.Duration
	// ShutdownGrace is the time Close waits after SIGTERM before SIGKILL.
	// Default DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// InvokeError is a function error as the runtime reports it: the JSON body
// of /invocation/{id}/error, the same document the Lambda Invoke API returns
// as the payload when FunctionError is set.
type InvokeError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

// Error returns "Type: Message".
func (e *InvokeError) Error() string { return e.Type + ": " + e.Message }

// Result is the outcome of one answered invocation.
type Result struct {
	// RequestID is the Lambda-Runtime-Aws-Request-Id the runtime saw, for
	// matching log lines.
	RequestID string
	// Payload is the response body, or the error document when Err is set.
	Payload []byte
	// Err is set when the function reported an error (a returned error, a
	// panic, or an oversized response); it is not a Go error of Invoke
	// because the invocation itself worked, as with Lambda's FunctionError.
	Err *InvokeError
	// Duration runs from handing the event to the runtime until its answer
	// arrived: what Lambda reports as the billed Duration.
	Duration time.Duration
}

// Function is one running bootstrap process with its Runtime API endpoint,
// the equivalent of one Lambda execution environment. Its methods are safe
// for concurrent use; invocations are served one at a time.
type Function struct {
	path         string
	arn          string
	timeout      time.Duration
	initTimeout  time.Duration
	grace        time.Duration
	functionName string
	version      string
	srv          *http.Server
	cmd          *exec.Cmd
	stopProcess  context.CancelFunc
	startedAt    time.Time
	stdout       *syncbuf.Buffer // nil when the caller supplied a writer
	stderr       *syncbuf.Buffer // nil when the caller supplied a writer
	tail         *tailBuffer
	pending      chan *invocation // unbuffered: a send completes when /next takes the event
	exited       chan struct{}    // closed once the process has been waited for
	initFailed   chan struct{}    // closed on the first /runtime/init/error
	done         chan struct{}    // closed by Close to release long polls
	invokeMu     sync.Mutex       // serializes Invoke, as one environment serves one event at a time
	closing      atomic.Bool
	closeOnce    sync.Once
	closeErr     error
	waitErr      error // written before exited is closed
	initErrOnce  sync.Once
	initErr      *InvokeError // written before initFailed is closed
	mu           sync.Mutex   // guards the fields below
	inflight     *invocation
	firstPoll    time.Time
	broken       error // set when the emulator killed the process (timeouts), returned by later Invokes
}

// invocation is one event on its way through the Runtime API.
type invocation struct {
	id      string
	event   []byte
	traceID string
	// Set by the /next handler before delivered is closed.
	start     time.Time
	deadline  time.Time
	delivered chan struct{}
	// Buffered (1): the handler that completes the invocation never blocks,
	// even when Invoke has already given up on it.
	done chan outcome
}

// outcome is what the runtime answered for an invocation.
type outcome struct {
	payload []byte
	funcErr *InvokeError
	err     error // a Runtime API protocol violation
	at      time.Time
}

// killWait bounds the wait for a process after SIGKILL; the kernel reaps a
// killed process in microseconds, so reaching it means something is badly
// wrong (an uninterruptible sleep), not a slow test.
const killWait = 5 * time.Second

// Start launches the bootstrap binary at opts.Path with a Runtime API
// endpoint of its own and returns at once, without waiting for the init
// phase: the first Invoke waits for it, so that StartedAt to the first answer
// measures the whole cold start.
//
// ctx governs the process's lifetime, as with exec.CommandContext: when it is
// done the process gets SIGTERM, then SIGKILL after the grace period. The
// caller must call Close in any case, to stop the endpoint and reap the
// process.
func Start(ctx context.Context, opts Options) (*Function, error) {
	if opts.Path == "" {
		return nil, errors.New("lambdaemu: Options.Path is empty")
	}
	// Absolute, because a relative path would be resolved against cmd.Dir.
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("lambdaemu: %s is not an executable file", path)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: listening on loopback: %w", err)
	}
	env := lambdaEnv(filepath.Dir(path), ln.Addr().String(), opts.Env)
	f := &Function{
		path:         path,
		arn:          fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", env["AWS_REGION"], env["AWS_LAMBDA_FUNCTION_NAME"]),
		functionName: env["AWS_LAMBDA_FUNCTION_NAME"],
		version:      env["AWS_LAMBDA_FUNCTION_VERSION"],
		timeout:      orDefault(opts.Timeout, DefaultTimeout),
		initTimeout:  orDefault(opts.InitTimeout, DefaultInitTimeout),
		grace:        orDefault(opts.ShutdownGrace, DefaultShutdownGrace),
		tail:         &tailBuffer{},
		pending:      make(chan *invocation),
		exited:       make(chan struct{}),
		initFailed:   make(chan struct{}),
		done:         make(chan struct{}),
	}
	f.srv = &http.Server{
		Handler: f.routes(),
		// Long polls must not time out, but a runtime that opens a
		// connection and sends nothing must not hold a goroutine forever.
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = f.srv.Serve(ln) }() // returns when Close closes the server

	var outMu sync.Mutex
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		f.stdout = &syncbuf.Buffer{}
		stdout = f.stdout
	}
	if stderr == nil {
		f.stderr = &syncbuf.Buffer{}
		stderr = f.stderr
	}
	procCtx, stop := context.WithCancel(ctx)
	newCmd := func() *exec.Cmd {
		cmd := exec.CommandContext(procCtx, path)
		cmd.Dir = filepath.Dir(path)
		cmd.Env = envList(env)
		cmd.Stdout = &streamWriter{mu: &outMu, w: stdout, tail: f.tail}
		cmd.Stderr = &streamWriter{mu: &outMu, w: stderr, tail: f.tail}
		// Lambda's shutdown: SIGTERM, then SIGKILL when the grace period is
		// over. WaitDelay also bounds the wait for the output pipes, which a
		// forked grandchild could otherwise hold open forever.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = f.grace
		return cmd
	}
	for attempt := 0; ; attempt++ {
		f.cmd = newCmd()
		f.startedAt = time.Now()
		err = f.cmd.Start()
		// ETXTBSY: another goroutine of this process forked while the binary
		// was still open for writing (Build copies it just before); the
		// child closes that inherited descriptor at exec, so retrying
		// shortly succeeds. See golang.org/issue/22315.
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == 20 {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	if err != nil {
		stop()
		_ = f.srv.Close()
		return nil, fmt.Errorf("lambdaemu: starting %s: %w", path, err)
	}
	f.stopProcess = stop
	go func() {
		f.waitErr = f.cmd.Wait()
		close(f.exited)
	}()
	return f, nil
}

// lambdaEnv is the environment Lambda gives a provided.al2023 function,
// reduced to what a Go function can observe, with overrides applied.
func lambdaEnv(taskRoot, runtimeAPI string, overrides map[string]string) map[string]string {
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "lambdaemu",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      "us-east-1",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin:/bin:/opt/bin",
		// Lambda's exact value; Go reads it as UTC.
		"TZ": ":UTC",
	}
	for k, v := range overrides {
		env[k] = v
	}
	derived := map[string]string{
		"AWS_DEFAULT_REGION":         env["AWS_REGION"],
		"AWS_LAMBDA_LOG_GROUP_NAME":  "/aws/lambda/" + env["AWS_LAMBDA_FUNCTION_NAME"],
		"AWS_LAMBDA_LOG_STREAM_NAME": time.Now().UTC().Format("2006/01/02") + "/[" + env["AWS_LAMBDA_FUNCTION_VERSION"] + "]" + randomHex(16),
	}
	for k, v := range derived {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	env["AWS_LAMBDA_RUNTIME_API"] = runtimeAPI
	return env
}

// envList turns env into exec's form, sorted so that runs are reproducible.
func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Path is the absolute path of the running binary; its directory is the
// task root and working directory.
func (f *Function) Path() string { return f.path }

// StartedAt is when the process was started: the origin of a cold start.
func (f *Function) StartedAt() time.Time { return f.startedAt }

// InitDuration is the time from StartedAt until the runtime first asked for
// an invocation (Lambda's "Init Duration"), or 0 if it has not yet asked.
func (f *Function) InitDuration() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.firstPoll.IsZero() {
		return 0
	}
	return f.firstPoll.Sub(f.startedAt)
}

// PID is the process id, e.g. for reading /proc/PID/status in a benchmark.
func (f *Function) PID() int { return f.cmd.Process.Pid }

// Stdout returns what the process wrote to stdout so far, when Options.Stdout
// was nil. Output arrives through a pipe, so a line written just before an
// answer may not be here yet when Invoke returns; after Close it is complete.
func (f *Function) Stdout() string {
	if f.stdout == nil {
		return ""
	}
	return f.stdout.String()
}

// Stderr is Stdout for the stderr stream.
func (f *Function) Stderr() string {
	if f.stderr == nil {
		return ""
	}
	return f.stderr.String()
}

// Invoke sends event (a JSON document, as Lambda requires) to the function
// and waits for its answer. Calls are served one at a time.
//
// A function error (returned error, panic) is a Result with Err set and a nil
// error. The Go error is for everything that is not an answer: the context
// ending, ErrInitTimeout, ErrTimeout, ErrInit, ErrExited, ErrClosed; errors
// caused by the process end with the tail of its output.
//
// When ctx ends while the function is handling the event, the invocation is
// abandoned but the process keeps running, and its late answer is discarded.
// On ErrTimeout or ErrInitTimeout the process is killed, as Lambda resets a
// timed-out environment; later calls fail with the same error.
func (f *Function) Invoke(ctx context.Context, event []byte) (Result, error) {
	if len(event) > MaxPayloadSize {
		return Result{}, fmt.Errorf("lambdaemu: event of %d bytes exceeds Lambda's limit of %d bytes", len(event), MaxPayloadSize)
	}
	if !json.Valid(event) {
		return Result{}, errors.New("lambdaemu: event is not valid JSON, which Lambda refuses")
	}
	f.invokeMu.Lock()
	defer f.invokeMu.Unlock()
	if err := f.unusable(); err != nil {
		return Result{}, err
	}
	inv := &invocation{
		id:        newUUID(),
		event:     event,
		traceID:   fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8)),
		delivered: make(chan struct{}),
		done:      make(chan outcome, 1),
	}
	if err := f.offer(ctx, inv); err != nil {
		return Result{RequestID: inv.id}, err
	}
	return f.await(ctx, inv)
}

// unusable says why no invocation can be offered, or nil.
func (f *Function) unusable() error {
	if f.closing.Load() {
		return ErrClosed
	}
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken != nil {
		return f.withTail(broken)
	}
	select {
	case <-f.exited:
		return f.withTail(f.exitError(""))
	default:
		return nil
	}
}

// offer hands inv to the runtime's long poll on /next.
func (f *Function) offer(ctx context.Context, inv *invocation) error {
	f.mu.Lock()
	initialized := !f.firstPoll.IsZero()
	f.mu.Unlock()
	wait := f.initTimeout
	if !initialized {
		wait = time.Until(f.startedAt.Add(f.initTimeout))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()

	select {
	case f.pending <- inv:
		<-inv.delivered // closed by the handler right after it took inv
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lambdaemu: waiting for the runtime to ask for request %s: %w", inv.id, context.Cause(ctx))
	case <-f.initFailed:
		// A runtime exits after reporting an init error; give it the grace
		// period to do so, so that its last words are in the tail.
		f.kill(f.grace, nil)
		return f.withTail(f.exitError(""))
	case <-f.exited:
		if f.closing.Load() {
			return ErrClosed
		}
		return f.withTail(f.exitError(""))
	case <-f.done:
		return ErrClosed
	case <-timer.C:
		phase := "of the previous answer"
		if !initialized {
			phase = "of process start"
		}
		err := fmt.Errorf("%w: no GET /next within %v %s; the process was killed", ErrInitTimeout, f.initTimeout, phase)
		f.kill(0, err)
		return f.withTail(err)
	}
}

// await waits for the runtime's answer to inv.
func (f *Function) await(ctx context.Context, inv *invocation) (Result, error) {
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()

	select {
	case out := <-inv.done:
		return f.result(inv, out)
	case <-ctx.Done():
		return Result{RequestID: inv.id}, fmt.Errorf("lambdaemu: waiting for the answer to request %s: %w", inv.id, context.Cause(ctx))
	case <-f.exited:
		// A runtime that answers and then exits (as aws-lambda-go does after
		// a panic) has its answer recorded before the process could exit.
		select {
		case out := <-inv.done:
			return f.result(inv, out)
		default:
		}
		if f.closing.Load() {
			return Result{RequestID: inv.id}, ErrClosed
		}
		return Result{RequestID: inv.id}, f.withTail(f.exitError(" while handling request " + inv.id))
	case <-timer.C:
		select {
		case out := <-inv.done:
			return f.result(inv, out)
		default:
		}
		err := fmt.Errorf("%w: request %s not answered within %v; the process was killed, as Lambda resets a timed-out environment", ErrTimeout, inv.id, f.timeout)
		f.kill(0, err)
		return Result{RequestID: inv.id}, f.withTail(err)
	}
}

func (f *Function) result(inv *invocation, out outcome) (Result, error) {
	r := Result{RequestID: inv.id, Payload: out.payload, Err: out.funcErr, Duration: out.at.Sub(inv.start)}
	if out.err != nil {
		return r, f.withTail(out.err)
	}
	return r, nil
}

// kill stops the process: after grace if it has not exited by itself by
// then, with SIGKILL, and waits (bounded) until it is reaped so that the
// output tail is complete. A non-nil cause is what later Invokes return.
func (f *Function) kill(grace time.Duration, cause error) {
	if cause != nil {
		f.mu.Lock()
		if f.broken == nil {
			f.broken = cause
		}
		f.mu.Unlock()
	}
	if grace > 0 {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-f.exited:
			return
		case <-t.C:
		}
	}
	_ = f.cmd.Process.Kill() // an already-finished process is fine
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-f.exited:
	case <-t.C:
	}
}

// exitError explains why the process cannot serve: an init error it
// reported, an exit during init, or an exit afterwards. It must be called
// only once exited is closed or initFailed is.
func (f *Function) exitError(while string) error {
	status := "still running"
	select {
	case <-f.exited:
		status = "exit status 0"
		if f.waitErr != nil {
			status = f.waitErr.Error()
		}
	default:
	}
	select {
	case <-f.initFailed:
		return fmt.Errorf("%w: runtime reported %s (process: %s)", ErrInit, f.initErr.Error(), status)
	default:
	}
	f.mu.Lock()
	initialized := !f.firstPoll.IsZero()
	f.mu.Unlock()
	if !initialized {
		return fmt.Errorf("%w: %w before asking for its first invocation (%s)", ErrInit, ErrExited, status)
	}
	return fmt.Errorf("%w%s (%s)", ErrExited, while, status)
}

// withTail appends the last lines of the process's output, which is where
// the reason for a crash is (a panic, log.Fatal, a config error).
func (f *Function) withTail(err error) error {
	tail := f.tail.String()
	if tail == "" {
		return fmt.Errorf("%w; the process wrote no output", err)
	}
	return fmt.Errorf("%w; last output of %s:\n%s", err, filepath.Base(f.path), tail)
}

// Close stops the function as Lambda does on spin-down (SIGTERM, SIGKILL
// after Options.ShutdownGrace), waits until the process is reaped, and stops
// the endpoint. It is idempotent; a pending Invoke fails with ErrClosed.
func (f *Function) Close() error {
	f.closeOnce.Do(func() {
		f.closing.Store(true)
		f.stopProcess() // os/exec sends SIGTERM, then SIGKILL after WaitDelay
		t := time.NewTimer(2*f.grace + killWait)
		defer t.Stop()
		select {
		case <-f.exited:
		case <-t.C:
			_ = f.cmd.Process.Kill()
			f.closeErr = fmt.Errorf("lambdaemu: process %d still not reaped %v after SIGTERM", f.PID(), 2*f.grace+killWait)
		}
		// Only now release the long polls: a runtime that saw its /next fail
		// while still alive would exit with an error of its own, which is
		// not what Lambda shows it.
		close(f.done)
		if err := f.srv.Close(); err != nil && f.closeErr == nil {
			f.closeErr = fmt.Errorf("lambdaemu: closing the runtime API server: %w", err)
		}
	})
	return f.closeErr
}

// newUUID returns a random version 4 UUID, the form of Lambda request ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand aborts the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
