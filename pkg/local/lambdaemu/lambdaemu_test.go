//go:build unix

package lambdaemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/lambdaemu"
)

// testWait bounds every wait of a test that expects success; far above what
// any step needs, it only turns a hang into a failure.
const testWait = 30 * time.Second

func TestMain(m *testing.M) {
	// The test binary doubles as a hand-written custom runtime (see
	// helperRuntime) when the emulator starts it with this variable.
	if scenario := os.Getenv("LAMBDAEMU_HELPER_RUNTIME"); scenario != "" {
		os.Exit(helperRuntime())
	}
	os.Exit(m.Run())
}

// start runs the echofn fixture (or opts.Path) and closes it when the test ends.
func start(t *testing.T, opts lambdaemu.Options) *lambdaemu.Function {
	t.Helper()
	if opts.Path == "" {
		opts.Path = lambdaemu.Build(t, "./testdata/echofn")
	}
	f, err := lambdaemu.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// invoke is Invoke for a call that must be answered.
func invoke(t *testing.T, f *lambdaemu.Function, event string) lambdaemu.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	r, err := f.Invoke(ctx, []byte(event))
	if err != nil {
		t.Fatalf("Invoke(%s): unexpected error: %v", event, err)
	}
	return r
}

// invokeErr is Invoke for a call that must fail with a Go error.
func invokeErr(t *testing.T, f *lambdaemu.Function, event string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	r, err := f.Invoke(ctx, []byte(event))
	if err == nil {
		t.Fatalf("Invoke(%s) = payload %s, err %v; want a Go error", event, r.Payload, r.Err)
	}
	return err
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEchoRoundTrip(t *testing.T) {
	f := start(t, lambdaemu.Options{})
	for _, event := range []string{
		`{"hello":"world"}`,
		`{"nested":{"list":[1,2,3],"unicode":"héllo ✓"}}`,
		`[1,"two",null]`,
		`"just a string"`,
		`42`,
	} {
		t.Run(event, func(t *testing.T) {
			r := invoke(t, f, event)
			if r.Err != nil {
				t.Fatalf("function error %v; want the event echoed", r.Err)
			}
			if !jsonEqual(t, r.Payload, []byte(event)) {
				t.Errorf("payload %s; want %s", r.Payload, event)
			}
			if !uuidRE.MatchString(r.RequestID) {
				t.Errorf("RequestID %q; want a UUID v4", r.RequestID)
			}
			if r.Duration <= 0 {
				t.Errorf("Duration %v; want > 0", r.Duration)
			}
		})
	}
}

func TestInvocationSeesLambdaContextAndEnvironment(t *testing.T) {
	t.Setenv("LAMBDAEMU_HOST_ONLY", "must not leak")
	const timeout = 7 * time.Second
	f := start(t, lambdaemu.Options{
		Timeout: timeout,
		Env: map[string]string{
			"AWS_REGION":               "eu-west-1",
			"AWS_LAMBDA_FUNCTION_NAME": "create",
			"TOKEN_TABLE_NAME":         "test-table",
			"AWS_LAMBDA_RUNTIME_API":   "ignored:1",
		},
	})
	before := time.Now()
	r := invoke(t, f, `{"action":"context"}`)
	var got struct {
		RequestID   string            `json:"requestId"`
		FunctionArn string            `json:"functionArn"`
		DeadlineMS  int64             `json:"deadlineMs"`
		Env         map[string]string `json:"env"`
		Cwd         string            `json:"cwd"`
	}
	if err := json.Unmarshal(r.Payload, &got); err != nil {
		t.Fatalf("payload %s: %v", r.Payload, err)
	}
	if got.RequestID != r.RequestID {
		t.Errorf("handler saw request id %q; Result says %q", got.RequestID, r.RequestID)
	}
	if want := "arn:aws:lambda:eu-west-1:000000000000:function:create"; got.FunctionArn != want {
		t.Errorf("invoked function ARN %q; want %q", got.FunctionArn, want)
	}
	deadline := time.UnixMilli(got.DeadlineMS)
	if deadline.Before(before.Add(timeout-time.Second)) || deadline.After(time.Now().Add(timeout)) {
		t.Errorf("handler deadline %v; want about %v after the invocation started at %v", deadline, timeout, before)
	}
	taskRoot := filepath.Dir(f.Path())
	wantEnv := map[string]string{
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "create",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/create",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"TZ":                              ":UTC",
		"TOKEN_TABLE_NAME":                "test-table",
	}
	for k, want := range wantEnv {
		if got.Env[k] != want {
			t.Errorf("env %s=%q; want %q", k, got.Env[k], want)
		}
	}
	if api := got.Env["AWS_LAMBDA_RUNTIME_API"]; !strings.HasPrefix(api, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API=%q; want the emulator's loopback address", api)
	}
	if trace := got.Env["_X_AMZN_TRACE_ID"]; !strings.HasPrefix(trace, "Root=1-") {
		t.Errorf("_X_AMZN_TRACE_ID=%q; want an X-Ray trace header set by aws-lambda-go from Lambda-Runtime-Trace-Id", trace)
	}
	if v, ok := got.Env["LAMBDAEMU_HOST_ONLY"]; ok {
		t.Errorf("host variable leaked into the function environment: %q", v)
	}
	if got.Cwd != taskRoot {
		t.Errorf("working directory %q; want the task root %q", got.Cwd, taskRoot)
	}
}

func TestFunctionErrors(t *testing.T) {
	tests := []struct {
		name      string
		event     string
		wantType  string
		wantMsg   string
		wantStack bool
		// aws-lambda-go exits after a panic or a refused response; Lambda
		// would start a new environment, the emulator reports the exit.
		wantExit bool
	}{
		{name: "returned error", event: `{"action":"error","message":"bad input"}`, wantType: "echoError", wantMsg: "bad input"},
		{name: "panic", event: `{"action":"panic","message":"boom"}`, wantType: "string", wantMsg: "boom", wantStack: true, wantExit: true},
		{
			name:     "response over the payload limit",
			event:    fmt.Sprintf(`{"action":"big","size":%d}`, lambdaemu.MaxPayloadSize+10),
			wantType: "Function.ResponseSizeTooLarge", wantMsg: "exceeded maximum allowed payload size", wantExit: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, lambdaemu.Options{})
			r := invoke(t, f, tt.event)
			if r.Err == nil {
				t.Fatalf("payload %.100s with no function error; want %s", r.Payload, tt.wantType)
			}
			if r.Err.Type != tt.wantType || !strings.Contains(r.Err.Message, tt.wantMsg) {
				t.Errorf("function error %q; want type %q with message containing %q", r.Err, tt.wantType, tt.wantMsg)
			}
			if gotStack := len(r.Err.StackTrace) > 0; gotStack != tt.wantStack {
				t.Errorf("stack trace present = %v; want %v", gotStack, tt.wantStack)
			}
			var doc lambdaemu.InvokeError
			if err := json.Unmarshal(r.Payload, &doc); err != nil || doc.Type != tt.wantType {
				t.Errorf("payload %.200s; want the error document (err %v)", r.Payload, err)
			}

			if tt.wantExit {
				err := invokeErr(t, f, `{"next":true}`)
				if !errors.Is(err, lambdaemu.ErrExited) || errors.Is(err, lambdaemu.ErrInit) {
					t.Errorf("next Invoke: %v; want ErrExited (and not ErrInit)", err)
				}
				return
			}
			if r := invoke(t, f, `{"next":true}`); r.Err != nil || !jsonEqual(t, r.Payload, []byte(`{"next":true}`)) {
				t.Errorf("next Invoke = %s, %v; want the same process to echo again", r.Payload, r.Err)
			}
		})
	}
}

func TestProcessFailures(t *testing.T) {
	tests := []struct {
		name     string
		opts     lambdaemu.Options
		event    string
		wantIs   []error
		wantNot  []error
		wantText []string
	}{
		{
			name:     "exit during init",
			opts:     lambdaemu.Options{Env: map[string]string{"ECHOFN_INIT_EXIT": "1"}},
			event:    `{}`,
			wantIs:   []error{lambdaemu.ErrInit, lambdaemu.ErrExited},
			wantText: []string{"exit status 3", "echofn: init failed: ECHOFN_INIT_EXIT is set"},
		},
		{
			name:     "init error reported to the runtime API",
			opts:     lambdaemu.Options{Env: map[string]string{"ECHOFN_INIT_ERROR": "1"}},
			event:    `{}`,
			wantIs:   []error{lambdaemu.ErrInit},
			wantText: []string{"Runtime.EchofnInitError: ECHOFN_INIT_ERROR is set", "echofn: reporting init error"},
		},
		{
			name:     "exit while handling",
			event:    `{"action":"exit"}`,
			wantIs:   []error{lambdaemu.ErrExited},
			wantNot:  []error{lambdaemu.ErrInit},
			wantText: []string{"exit status 4", "echofn: exiting in the middle of an invocation"},
		},
		{
			name:     "never asks for an invocation",
			opts:     lambdaemu.Options{InitTimeout: 300 * time.Millisecond, Env: map[string]string{"ECHOFN_INIT_HANG": "1"}},
			event:    `{}`,
			wantIs:   []error{lambdaemu.ErrInitTimeout},
			wantText: []string{"echofn: hanging in init"},
		},
		{
			name:     "invocation timeout",
			opts:     lambdaemu.Options{Timeout: 300 * time.Millisecond},
			event:    `{"action":"hang","sleepMs":60000}`,
			wantIs:   []error{lambdaemu.ErrTimeout},
			wantText: []string{"not answered within 300ms"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, tt.opts)
			check := func(err error) {
				t.Helper()
				for _, want := range tt.wantIs {
					if !errors.Is(err, want) {
						t.Errorf("error %q; want errors.Is %q", err, want)
					}
				}
				for _, not := range tt.wantNot {
					if errors.Is(err, not) {
						t.Errorf("error %q; want not errors.Is %q", err, not)
					}
				}
				for _, text := range tt.wantText {
					if !strings.Contains(err.Error(), text) {
						t.Errorf("error %q; want it to contain %q", err, text)
					}
				}
			}
			check(invokeErr(t, f, tt.event))
			// The environment stays broken, with the same explanation.
			check(invokeErr(t, f, `{}`))
			if alive(f.PID()) {
				t.Errorf("process %d still running after the failure", f.PID())
			}
		})
	}
}

func TestInvokeContextEnds(t *testing.T) {
	t.Run("while waiting for init", func(t *testing.T) {
		f := start(t, lambdaemu.Options{Env: map[string]string{"ECHOFN_INIT_HANG": "1"}})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := f.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Invoke: %v; want context.DeadlineExceeded", err)
		}
	})
	t.Run("while handling, the invocation is abandoned", func(t *testing.T) {
		f := start(t, lambdaemu.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := f.Invoke(ctx, []byte(`{"action":"hang","sleepMs":400}`)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Invoke: %v; want context.DeadlineExceeded", err)
		}
		// The late answer is discarded; the environment serves the next event.
		if r := invoke(t, f, `{"after":"abandoned"}`); !jsonEqual(t, r.Payload, []byte(`{"after":"abandoned"}`)) {
			t.Errorf("payload %s; want the new event echoed, not the abandoned one", r.Payload)
		}
	})
}

func TestSequentialInvocationsShareOneProcess(t *testing.T) {
	f := start(t, lambdaemu.Options{})
	pid := f.PID()
	seen := map[string]bool{}
	for i := 1; i <= 20; i++ {
		r := invoke(t, f, `{"action":"count"}`)
		var got struct{ Invocations int }
		if err := json.Unmarshal(r.Payload, &got); err != nil {
			t.Fatalf("invocation %d: payload %s: %v", i, r.Payload, err)
		}
		if got.Invocations != i {
			t.Fatalf("invocation %d: the process counted %d; want %d (one warm environment)", i, got.Invocations, i)
		}
		if seen[r.RequestID] {
			t.Fatalf("invocation %d: request id %s reused", i, r.RequestID)
		}
		seen[r.RequestID] = true
	}
	if f.PID() != pid || !alive(pid) {
		t.Errorf("process %d replaced or gone after 20 invocations", pid)
	}
}

func TestConcurrentInvokesAreSerialized(t *testing.T) {
	f := start(t, lambdaemu.Options{})
	const goroutines, each = 8, 5
	counts := make(chan int, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ctx, cancel := context.WithTimeout(context.Background(), testWait)
				r, err := f.Invoke(ctx, []byte(`{"action":"count"}`))
				cancel()
				if err != nil || r.Err != nil {
					t.Errorf("Invoke: %v, %v", err, r.Err)
					return
				}
				var got struct{ Invocations int }
				_ = json.Unmarshal(r.Payload, &got)
				counts <- got.Invocations
			}
		}()
	}
	wg.Wait()
	close(counts)
	seen := map[int]bool{}
	for c := range counts {
		if seen[c] || c < 1 || c > goroutines*each {
			t.Errorf("invocation count %d duplicated or out of range; want each of 1..%d once", c, goroutines*each)
		}
		seen[c] = true
	}
}

func TestClose(t *testing.T) {
	t.Run("SIGTERM reaches the function", func(t *testing.T) {
		f := start(t, lambdaemu.Options{})
		invoke(t, f, `{}`)
		pid := f.PID()
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if alive(pid) {
			t.Errorf("process %d still exists after Close", pid)
		}
		if !strings.Contains(f.Stderr(), "echofn: SIGTERM received") {
			t.Errorf("stderr %q; want the function's SIGTERM handler to have run", f.Stderr())
		}
		if err := f.Close(); err != nil {
			t.Errorf("second Close: %v; want nil", err)
		}
		if _, err := f.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, lambdaemu.ErrClosed) {
			t.Errorf("Invoke after Close: %v; want ErrClosed", err)
		}
	})
	t.Run("SIGKILL after the grace period", func(t *testing.T) {
		const grace = 300 * time.Millisecond
		f := start(t, lambdaemu.Options{ShutdownGrace: grace, Env: map[string]string{"ECHOFN_IGNORE_SIGTERM": "1"}})
		invoke(t, f, `{}`)
		pid := f.PID()
		began := time.Now()
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if took := time.Since(began); took < grace {
			t.Errorf("Close took %v; a process ignoring SIGTERM should get the %v grace period", took, grace)
		}
		if alive(pid) {
			t.Errorf("process %d still exists after Close", pid)
		}
	})
	t.Run("before the first invocation", func(t *testing.T) {
		f := start(t, lambdaemu.Options{Env: map[string]string{"ECHOFN_INIT_HANG": "1"}})
		pid := f.PID()
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if alive(pid) {
			t.Errorf("process %d still exists after Close", pid)
		}
	})
	t.Run("pending Invoke fails with ErrClosed", func(t *testing.T) {
		f := start(t, lambdaemu.Options{})
		errc := make(chan error, 1)
		go func() {
			_, err := f.Invoke(context.Background(), []byte(`{"action":"hang","sleepMs":60000}`))
			errc <- err
		}()
		// Let the event reach the handler, so that Close interrupts an
		// invocation rather than the init phase.
		for deadline := time.Now().Add(testWait); f.InitDuration() == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, lambdaemu.ErrClosed) {
				t.Errorf("pending Invoke: %v; want ErrClosed", err)
			}
		case <-time.After(testWait):
			t.Fatal("pending Invoke did not return after Close")
		}
	})
}

func TestStartContextStopsProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f, err := lambdaemu.Start(ctx, lambdaemu.Options{Path: lambdaemu.Build(t, "./testdata/echofn")})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer f.Close()
	invoke(t, f, `{}`)
	cancel()
	deadline := time.Now().Add(testWait)
	for alive(f.PID()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The process is gone once it is no longer signalable; Invoke must say so.
	if err := invokeErr(t, f, `{}`); !errors.Is(err, lambdaemu.ErrExited) {
		t.Errorf("Invoke after the Start context ended: %v; want ErrExited", err)
	}
}

func TestOutput(t *testing.T) {
	t.Run("default buffers", func(t *testing.T) {
		f := start(t, lambdaemu.Options{})
		invoke(t, f, `{"action":"log","message":"hello from the handler"}`)
		if err := f.Close(); err != nil { // Close drains the pipes
			t.Fatal(err)
		}
		if !strings.Contains(f.Stdout(), "echofn: init done") {
			t.Errorf("Stdout() = %q; want the init line", f.Stdout())
		}
		if !strings.Contains(f.Stderr(), "echofn: hello from the handler") {
			t.Errorf("Stderr() = %q; want the handler's log line", f.Stderr())
		}
	})
	t.Run("one caller writer for both streams", func(t *testing.T) {
		var out bytes.Buffer // not safe for concurrent use: the emulator must serialize
		f := start(t, lambdaemu.Options{Stdout: &out, Stderr: &out})
		invoke(t, f, `{"action":"log","message":"to the caller"}`)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if s := out.String(); !strings.Contains(s, "echofn: init done") || !strings.Contains(s, "echofn: to the caller") {
			t.Errorf("caller writer got %q; want both streams", s)
		}
		if f.Stdout() != "" || f.Stderr() != "" {
			t.Errorf("Stdout/Stderr = %q/%q; want empty when the caller supplied writers", f.Stdout(), f.Stderr())
		}
	})
}

func TestColdStartMeasurement(t *testing.T) {
	f := start(t, lambdaemu.Options{})
	invoke(t, f, `{}`)
	coldStart := time.Since(f.StartedAt())
	init := f.InitDuration()
	if coldStart <= 0 || init <= 0 || init > coldStart {
		t.Fatalf("cold start %v, init %v; want 0 < init <= cold start", coldStart, init)
	}
	t.Logf("cold start %v (init %v)", coldStart, init)
}

func TestInvalidEvents(t *testing.T) {
	f := start(t, lambdaemu.Options{})
	for name, event := range map[string][]byte{
		"not JSON":          []byte(`{not json`),
		"empty":             nil,
		"over payload size": append(append([]byte(`"`), bytes.Repeat([]byte("x"), lambdaemu.MaxPayloadSize)...), '"'),
	} {
		if _, err := f.Invoke(context.Background(), event); err == nil {
			t.Errorf("%s: Invoke succeeded; want an error before the function is called", name)
		}
	}
	var got struct{ Invocations int }
	if err := json.Unmarshal(invoke(t, f, `{"action":"count"}`).Payload, &got); err != nil || got.Invocations != 1 {
		t.Errorf("count = %d (%v); want 1: refused events must not reach the function", got.Invocations, err)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "data")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"empty":          "",
		"missing":        filepath.Join(dir, "missing"),
		"directory":      dir,
		"not executable": notExec,
	} {
		if f, err := lambdaemu.Start(context.Background(), lambdaemu.Options{Path: path}); err == nil {
			_ = f.Close()
			t.Errorf("%s: Start(%q) succeeded; want an error", name, path)
		}
	}
}

func TestBuildCopiesAreIndependent(t *testing.T) {
	a := lambdaemu.Build(t, "./testdata/echofn")
	b := lambdaemu.Build(t, "./testdata/echofn")
	if a == b {
		t.Fatalf("Build returned %s twice; want a file per call", a)
	}
	ca, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, cb) {
		t.Errorf("two Builds of one package differ; want the cached binary")
	}
}

// The remaining tests drive the emulator with a hand-written runtime (this
// test binary, see helperRuntime) to reach Runtime API paths aws-lambda-go
// never takes.

func startHelper(t *testing.T) *lambdaemu.Function {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return start(t, lambdaemu.Options{Path: exe, Env: map[string]string{"LAMBDAEMU_HELPER_RUNTIME": "1"}})
}

func TestRuntimeAPIProtocol(t *testing.T) {
	f := startHelper(t)
	t.Run("unknown request id is refused", func(t *testing.T) {
		r := invoke(t, f, `{"do":"wrong-id"}`)
		if want := `{"wrongIdStatus":400}`; string(r.Payload) != want {
			t.Errorf("payload %s; want %s", r.Payload, want)
		}
	})
	t.Run("error body that is not JSON keeps header type", func(t *testing.T) {
		r := invoke(t, f, `{"do":"raw-error"}`)
		if r.Err == nil || r.Err.Type != "Custom.Raw" || r.Err.Message != "plain text failure" {
			t.Errorf("function error %+v; want Custom.Raw: plain text failure", r.Err)
		}
	})
	t.Run("error trailer on a response", func(t *testing.T) {
		r := invoke(t, f, `{"do":"trailer-error"}`)
		if r.Err == nil || r.Err.Type != "StreamError" || r.Err.Message != "broke mid-stream" {
			t.Errorf("function error %+v; want StreamError: broke mid-stream", r.Err)
		}
	})
	t.Run("asking for the next event without answering", func(t *testing.T) {
		err := invokeErr(t, f, `{"do":"skip"}`)
		if !strings.Contains(err.Error(), "without answering") {
			t.Errorf("error %q; want a protocol violation", err)
		}
		if r := invoke(t, f, `{"do":"echo"}`); string(r.Payload) != `{"do":"echo"}` {
			t.Errorf("payload %s; want the runtime to go on serving", r.Payload)
		}
	})
	t.Run("init error after init is refused", func(t *testing.T) {
		r := invoke(t, f, `{"do":"late-init-error"}`)
		if want := `{"initErrorStatus":403}`; string(r.Payload) != want {
			t.Errorf("payload %s; want %s", r.Payload, want)
		}
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Errorf("not JSON: %s", a)
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Errorf("not JSON: %s", b)
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// BenchmarkColdStart shows how a benchmark measures a cold start: process
// start to first answered invocation, reported per start.
func BenchmarkColdStart(b *testing.B) {
	path := lambdaemu.Build(b, "./testdata/echofn")
	var total, init time.Duration
	for b.Loop() {
		f, err := lambdaemu.Start(context.Background(), lambdaemu.Options{Path: path, Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		if _, err := f.Invoke(ctx, []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
		total += time.Since(f.StartedAt())
		init += f.InitDuration()
		cancel()
		b.StopTimer()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/coldstart")
	b.ReportMetric(float64(init.Microseconds())/float64(b.N)/1000, "ms/init")
}

// BenchmarkWarmInvoke is the emulator's own per-invocation overhead plus a
// trivial handler: the floor under any function benchmark.
func BenchmarkWarmInvoke(b *testing.B) {
	f, err := lambdaemu.Start(context.Background(), lambdaemu.Options{
		Path: lambdaemu.Build(b, "./testdata/echofn"), Stdout: io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	event := []byte(`{"hello":"world"}`)
	ctx := context.Background()
	for b.Loop() {
		if r, err := f.Invoke(ctx, event); err != nil || r.Err != nil {
			b.Fatal(err, r.Err)
		}
	}
}
